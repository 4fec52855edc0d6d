// Times the ES module in Node: load (compile + instantiate), then verify (SRS check,
// verifying-key derivation, proof) of DIR's proof, three times.
//
//   node verifier/tests/bench-node.mjs DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const here = new URL('.', import.meta.url).pathname;
const pkg = process.env.SUMMA_VERIFIER_PKG || join(here, '..', 'pkg');
const t0 = performance.now();
const { default: init, verify } = await import(join(pkg, 'summa_verifier.js'));
const { loadMs } = await init();
const imported = performance.now() - t0;
const proof = readFileSync(join(dir, 'proof.json'), 'utf8');
const result = readFileSync(join(dir, 'result.json'), 'utf8');
const srs = new Uint8Array(readFileSync(join(dir, 'srs.bin')));
const runs = [];
for (let i = 0; i < 3; i++) {
  const out = verify(proof, result, srs, { unsafeTestSrs: true });
  if (!out.ok) {
    console.error(`node bench: not verified: ${out.error}`);
    process.exit(1);
  }
  runs.push(out.timingsMs);
  console.log(`node ${process.version}: ${out.shape} run ${i + 1}: ${JSON.stringify(out.timingsMs, (k, v) => (typeof v === 'number' ? Math.round(v) : v))}`);
}
console.log(`node ${process.version}: import + load ${imported.toFixed(0)} ms (compile + instantiate ${loadMs.toFixed(0)} ms)`);
