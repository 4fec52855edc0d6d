// The ES module verifier/pkg/summa_verifier.js in Node: a genuine proof is accepted
// and shows the user's record; every way to cheat that `summa-agg verify` refuses is
// refused here too, with its reason.
//
//   SUMMA_VERIFIER_FIXTURES=DIR SUMMA_CLI=target/debug/summa-agg node --test verifier/tests/node.test.mjs
//
// DIR is made by verifier/tests/fixtures.sh; SUMMA_CLI is the native command line,
// which must give the module's verdict and reason on each hostile input
// (hostile.mjs; the page is checked on the same table by browser.mjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UNSAFE, writeCases } from './hostile.mjs';

const here = new URL('.', import.meta.url).pathname;
const pkg = process.env.SUMMA_VERIFIER_PKG || join(here, '..', 'pkg');
const dir = process.env.SUMMA_VERIFIER_FIXTURES;
const dir_ = dir;
assert.ok(dir, 'set SUMMA_VERIFIER_FIXTURES (verifier/tests/fixtures.sh makes it)');

const { default: init, verify, verifyOnChain, WASM_SHA256 } = await import(join(pkg, 'summa_verifier.js'));
const loaded = await init();

const proof = readFileSync(join(dir, 'proof.json'), 'utf8');
const otherProof = readFileSync(join(dir, 'other-proof.json'), 'utf8');
const result = readFileSync(join(dir, 'result.json'), 'utf8');
const srs = new Uint8Array(readFileSync(join(dir, 'srs.bin')));
const published = JSON.parse(result);
const entry = JSON.parse(proof).entry;
const TEST = { unsafeTestSrs: true };

const edit = (json, change) => {
  const v = JSON.parse(json);
  change(v);
  return JSON.stringify(v, null, 2);
};
function refused(outcome, reason) {
  assert.equal(outcome.ok, false, `accepted: ${JSON.stringify(outcome)}`);
  assert.equal(typeof outcome.error, 'string');
  assert.match(outcome.error, reason);
  assert.deepEqual(outcome.balances, []);
  assert.equal(outcome.username, null);
}

test('the module loads and says which .wasm it is', () => {
  assert.match(WASM_SHA256, /^[0-9a-f]{64}$/);
  const file = readFileSync(join(pkg, 'summa_verifier.wasm.sha256'), 'utf8');
  assert.equal(file.split(' ')[0], WASM_SHA256);
  assert.ok(loaded.loadMs >= 0);
});

test('a genuine proof is accepted and shows the user record, the root and the totals', () => {
  const t0 = performance.now();
  const out = verify(proof, result, srs, TEST);
  const ms = performance.now() - t0;
  assert.equal(out.error, null);
  assert.equal(out.ok, true);
  assert.equal(out.username, 'dxGaEAii');
  assert.equal(out.unsafeTestSrs, true);
  assert.deepEqual(
    out.balances,
    published.currencies.map((c, i) => ({ currency: c.name, chain: c.chain, amount: entry.balances[i] })),
  );
  assert.deepEqual(
    out.totals,
    published.currencies.map((c, i) => ({ currency: c.name, chain: c.chain, amount: published.root.balances[i] })),
  );
  assert.equal(out.root, published.root.hash);
  assert.match(out.shape, /^v1-d6-c2-b14$/);
  console.log(`node: load ${loaded.loadMs.toFixed(0)} ms, verify ${ms.toFixed(0)} ms, timings ${JSON.stringify(out.timingsMs)}`);
});

test('the expected username and balances, when given, must match', () => {
  const ok = verify(proof, result, srs, { ...TEST, username: 'dxGaEAii', balances: entry.balances });
  assert.equal(ok.ok, true, ok.error);
  refused(verify(proof, result, srs, { ...TEST, username: 'aaGaEAaa' }), /username|user/i);
  const wrong = entry.balances.map((b, i) => (i === 0 ? (BigInt(b) + 1n).toString() : b));
  refused(verify(proof, result, srs, { ...TEST, balances: wrong }), /balance/i);
  refused(verify(proof, result, srs, { ...TEST, balances: [entry.balances[0]] }), /balance/i);
  refused(verify(proof, result, srs, { ...TEST, balances: [1, 2] }), /decimal strings/);
});

test('tampered proof bytes are refused', () => {
  const tampered = edit(proof, (p) => {
    const i = 100;
    const c = p.proof[i] === '0' ? '1' : '0';
    p.proof = p.proof.slice(0, i) + c + p.proof.slice(i + 1);
  });
  refused(verify(tampered, result, srs, TEST), /does not verify|proof/i);
  refused(verify(edit(proof, (p) => (p.proof = '0x')), result, srs, TEST), /proof/i);
  refused(verify(edit(proof, (p) => (p.proof = 'zz')), result, srs, TEST), /hex|proof/i);
});

test('another root is refused', () => {
  const other = edit(result, (r) => {
    r.root.hash = '0x' + '0'.repeat(63) + '1';
  });
  refused(verify(proof, other, srs, TEST), /root/i);
  const proofOtherRoot = edit(proof, (p) => {
    p.public_inputs.root_hash = '0x' + '0'.repeat(63) + '1';
  });
  refused(verify(proofOtherRoot, result, srs, TEST), /root|not verify|public/i);
});

test('a changed total is refused', () => {
  const changed = edit(result, (r) => {
    r.root.balances[0] = (BigInt(r.root.balances[0]) + 1n).toString();
  });
  refused(verify(proof, changed, srs, TEST), /total|does not verify|proof/i);
});

test("another user's record in the proof file is refused", () => {
  const other = JSON.parse(otherProof).entry;
  refused(verify(edit(proof, (p) => (p.entry = other)), result, srs, TEST), /leaf|entry|hash|not verify/i);
  const richer = edit(proof, (p) => {
    p.entry.balances[0] = (BigInt(p.entry.balances[0]) + 1000n).toString();
  });
  refused(verify(richer, result, srs, TEST), /leaf|entry|hash|not verify/i);
});

test('the test SRS is refused unless explicitly allowed', () => {
  refused(verify(proof, result, srs, {}), /test SRS|unsafe/i);
  refused(verify(proof, result, srs), /test SRS|unsafe/i);
  refused(verify(proof, result, srs, { unsafeTestSrs: false }), /test SRS|unsafe/i);
});

test('with no SRS file, the key pinned for the shape; the test setup only when allowed', () => {
  for (const none of [null, undefined, new Uint8Array(0)]) {
    const out = verify(proof, result, none, TEST);
    assert.equal(out.ok, true, out.error);
    assert.equal(out.pinnedKey, true);
    assert.equal(out.timingsMs.srs, 0);
  }
  assert.equal(verify(proof, result, srs, TEST).pinnedKey, false);
  refused(verify(proof, result, null, {}), /only the UNSAFE TEST SRS's.*give the ceremony's SRS file/);
  const tampered = edit(proof, (p) => (p.proof = p.proof.slice(0, 100) + (p.proof[100] === '0' ? '1' : '0') + p.proof.slice(101)));
  refused(verify(tampered, result, null, TEST), /does not verify/);
  // A shape with no pinned key (the legacy layout) needs the SRS file, and says so.
  const legacy = (f) => readFileSync(join(dir, 'legacy', f), 'utf8');
  refused(verify(legacy('proof.json'), legacy('result.json'), null, TEST), /no verifying key is pinned.*takes seconds/);
  const slow = verify(legacy('proof.json'), legacy('result.json'), new Uint8Array(readFileSync(join(dir, 'legacy', 'srs.bin'))), TEST);
  assert.equal(slow.ok, true, slow.error);
  assert.equal(slow.pinnedKey, false);
});

test('from the chain: the round read from the registry on a local node', async () => {
  const { rpc, registry } = JSON.parse(readFileSync(join(dir, 'chain.json'), 'utf8'));
  const proofB = readFileSync(join(dir, 'proof-b.json'), 'utf8');
  const resultB = readFileSync(join(dir, 'result-b.json'), 'utf8');
  const latest = { rpc, registry, round: null };
  const ok = await verifyOnChain(proofB, latest, null, null, TEST);
  assert.equal(ok.ok, true, ok.error);
  assert.equal(ok.round, 1);
  assert.equal(ok.pinnedKey, true);
  assert.equal(ok.resultMatchesChain, null);
  assert.equal(ok.root, JSON.parse(resultB).root.hash);
  const matching = await verifyOnChain(proofB, latest, resultB, null, TEST);
  assert.equal(matching.resultMatchesChain, true, matching.error);
  // Round 0 by its id.
  const first = await verifyOnChain(proof, { rpc, registry, round: 0 }, null, null, TEST);
  assert.equal(first.ok, true, first.error);
  assert.equal(first.round, 0);
  // A proof of another round, a result.json that is not the recorded one, a
  // tampered proof, the test setup not allowed: refused.
  refused(await verifyOnChain(proof, latest, null, null, TEST), /root/);
  refused(await verifyOnChain(proofB, latest, result, null, TEST), /differs from the round's on-chain record: its root/);
  const tampered = edit(proofB, (p) => (p.proof = p.proof.slice(0, 100) + (p.proof[100] === '0' ? '1' : '0') + p.proof.slice(101)));
  refused(await verifyOnChain(tampered, latest, null, null, TEST), /does not verify/);
  refused(await verifyOnChain(proofB, latest, null, null, {}), /pinned on the UNSAFE TEST SRS.*refused unless accepted/);
  // No such round, no registry there, no endpoint, bad settings.
  refused(await verifyOnChain(proofB, { rpc, registry, round: 9 }, null, null, TEST), /refused the read of the round/);
  refused(await verifyOnChain(proofB, { rpc, registry: `0x${'11'.repeat(20)}`, round: null }, null, null, TEST), /answered nothing/);
  refused(await verifyOnChain(proofB, { rpc: 'http://127.0.0.1:9', registry, round: null }, null, null, TEST), /could not be read/);
  refused(await verifyOnChain(proofB, { rpc, registry: 'nope', round: null }, null, null, TEST), /address/);
  refused(await verifyOnChain(proofB, { rpc, registry, round: -1 }, null, null, TEST), /whole number/);
});

test('an SRS that is not one is refused', () => {
  refused(verify(proof, result, srs.slice(0, srs.length - 1), TEST), /SRS|srs/);
  refused(verify(proof, result, new Uint8Array(4096).fill(7), TEST), /SRS|srs/);
});

test('malformed JSON and empty files are refused, never thrown', () => {
  refused(verify('{"kind": ', result, srs, TEST), /proof/i);
  refused(verify(proof, '{"root": [', srs, TEST), /result/i);
  refused(verify('', result, srs, TEST), /proof|empty/i);
  refused(verify(proof, '', srs, TEST), /result|empty/i);
  refused(verify(proof, result, new Uint8Array(3), TEST), /SRS|srs/i);
  refused(verify('[]', '[]', new Uint8Array(3), TEST), /./);
  refused(verify(null, result, srs, TEST), /must be a string/);
  refused(verify(proof, result, 'not bytes', TEST), /./);
  refused(verify(proof, result, srs, 'options'), /options/);
  // Still usable afterwards (a trap replaces the instance).
  assert.equal(verify(proof, result, srs, TEST).ok, true);
});

test('the options are strict: an unknown option or an empty username is refused', () => {
  refused(verify(proof, result, srs, { ...TEST, user: 'dxGaEAii' }), /Unknown option "user"/);
  refused(verify(proof, result, srs, { ...TEST, username: '' }), /expected username is empty/);
  refused(verify(proof, result, srs, [1]), /options must be an object/);
});

test('the command line and the module give the same verdict and reason on each hostile input', () => {
  const cli = process.env.SUMMA_CLI;
  assert.ok(cli, 'set SUMMA_CLI to the native summa-agg (verifier/test.sh does)');
  const dir = mkdtempSync(join(tmpdir(), 'summa-hostile-'));
  for (const c of writeCases(dir_, dir)) {
    const mod = verify(c.proof, c.result, srs, TEST);
    const run = spawnSync(
      cli,
      ['verify', join(dir, c.name, 'proof.json'), '--result', join(dir, c.name, 'result.json'),
        '--srs', join(dir_, 'srs.bin'), '--unsafe-test-srs'],
      { encoding: 'utf8' },
    );
    const said = `${run.stdout}${run.stderr}`;
    assert.equal(mod.ok, c.ok, `${c.name}: the module says ${JSON.stringify(mod)}`);
    assert.equal(run.status === 0, c.ok, `${c.name}: the command line says (exit ${run.status}) ${said}`);
    // Nothing a terminal or a page would obey, in either.
    assert.doesNotMatch(said, UNSAFE, `${c.name}: ${JSON.stringify(said)}`);
    for (const s of [mod.error, mod.username, ...mod.balances.map((b) => b.currency + b.chain)]) {
      if (typeof s === 'string') assert.doesNotMatch(s, UNSAFE, `${c.name}: ${JSON.stringify(s)}`);
    }
    if (c.ok) {
      assert.match(run.stdout, /^VERIFIED/m, c.name);
    } else {
      assert.ok(mod.error.includes(c.reason), `${c.name}: the module says ${mod.error}\n  expected: ${c.reason}`);
      assert.ok(said.includes(c.reason), `${c.name}: the command line says ${said}\n  expected: ${c.reason}`);
      // Nothing on stdout; a hostile value echoed (escaped) in the refusal may hold
      // the word, but no line reads as a report.
      assert.equal(run.stdout, '', c.name);
      assert.doesNotMatch(said, /^\s*VERIFIED/m, c.name);
    }
  }
});
