// Times the ES module in Node: load (compile + instantiate), then verify DIR's
// proof with the key pinned for its shape and no SRS file, ten times; and once with
// the SRS file (the slow path: the SRS checked, the key derived).
// The last line: {"node_ms": the fastest pinned check, from the call to the verdict}.
//
//   node verifier/tests/bench-node.mjs DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const here = new URL('.', import.meta.url).pathname;
const pkg = process.env.SUMMA_VERIFIER_PKG || join(here, '..', 'pkg');
const t0 = performance.now();
const { default: init, verify } = await import(join(pkg, 'summa_verifier.js'));
const { loadMs, warmUpMs } = await init();
const imported = performance.now() - t0;
const proof = readFileSync(join(dir, 'proof.json'), 'utf8');
const result = readFileSync(join(dir, 'result.json'), 'utf8');
const srs = new Uint8Array(readFileSync(join(dir, 'srs.bin')));
const round = (v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v);
const check = (srsFile) => {
  const start = performance.now();
  const out = verify(proof, result, srsFile, { unsafeTestSrs: true });
  const ms = performance.now() - start;
  if (!out.ok) {
    console.error(`node bench: not verified: ${out.error}`);
    process.exit(1);
  }
  return { ms, out };
};
const runs = [];
for (let i = 0; i < 10; i++) {
  const { ms, out } = check(null);
  if (!out.pinnedKey) throw new Error('node bench: the pinned key was not used');
  runs.push(ms);
  if (i < 3) console.log(`node ${process.version}: ${out.shape} pinned key, run ${i + 1}: ${ms.toFixed(1)} ms ${JSON.stringify(out.timingsMs, (k, v) => round(v))}`);
}
const slow = check(srs);
console.log(`node ${process.version}: with the SRS file (slow path): ${slow.ms.toFixed(0)} ms ${JSON.stringify(slow.out.timingsMs, (k, v) => round(v))}`);
console.log(`node ${process.version}: import + load ${imported.toFixed(0)} ms (compile + instantiate ${loadMs.toFixed(0)} ms, then the warm-up ${warmUpMs.toFixed(0)} ms)`);
console.log(JSON.stringify({ node_ms: round(Math.min(...runs)), node_runs_ms: runs.map(round) }));
