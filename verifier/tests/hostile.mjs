// One table of hostile inputs, checked by three readers that must agree: the
// command line (`summa-agg verify`), the ES module in Node (node.test.mjs) and the
// page in headless Chromium (browser.mjs). Each case is a proof file and a
// result.json, as bytes, made from the genuine fixtures; `ok` is the verdict all
// three must give and `reason` what each refusal must say.
//
// The cases reproduce what an adversarial review of the verifier found (issue 29):
// escape sequences in a field of a failing proof, labels swapped, renamed or
// hiding text in result.json, duplicate keys, a byte-order mark, an unknown field,
// an empty username, a point at infinity in the proof bytes.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// A fake report that a terminal would draw over the real refusal, then hide the rest.
export const HOSTILE = '\r\x1b[1A\x1b[J\nVERIFIED: "dxGaEAii" is included\u202e\u200b\x1b[8m';

// What no reader may let through to a terminal or a page: C0 controls but the
// newline, DEL, C1 controls, bidi overrides and isolates, zero-width characters,
// the byte-order mark, line and paragraph separators.
export const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/u;

// The labels' digest as result.json and the proof carry it: SHA-256 of the
// compact JSON array of the currencies (summa_agg::json::labels_digest).
export const labelsDigest = (currencies) =>
  '0x' +
  createHash('sha256')
    .update(JSON.stringify(currencies.map((c) => ({ name: c.name, chain: c.chain }))))
    .digest('hex');

const edit = (text, change) => {
  const v = JSON.parse(text);
  change(v);
  return JSON.stringify(v, null, 2);
};

// result.json with `change` made to its currencies, its labels digest recomputed
// (the custodian can rewrite both).
const relabel = (result, change) =>
  edit(result, (r) => {
    change(r.currencies);
    r.labels_digest = labelsDigest(r.currencies);
  });

export function cases(fixtures) {
  const proof = readFileSync(join(fixtures, 'proof.json'), 'utf8');
  const result = readFileSync(join(fixtures, 'result.json'), 'utf8');
  const p = JSON.parse(proof);
  const flip = (hex, at) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
  return [
    { name: 'genuine', proof, result, ok: true, reason: null },
    {
      name: 'escape-sequences-in-a-failing-proof',
      proof: edit(proof, (v) => (v.public_inputs.leaf_hash = HOSTILE)),
      result,
      ok: false,
      reason: 'not to the leaf',
    },
    {
      name: 'hidden-text-in-a-label',
      proof,
      result: relabel(result, (c) => (c[0].chain = `ETH${HOSTILE}`)),
      ok: false,
      reason: 'is not a plain name',
    },
    {
      name: 'labels-swapped',
      proof,
      result: relabel(result, (c) => c.reverse()),
      ok: false,
      reason: 'are not the ones this proof was made for',
    },
    {
      name: 'label-renamed',
      proof,
      result: relabel(result, (c) => (c[0].name = 'BTC')),
      ok: false,
      reason: 'are not the ones this proof was made for',
    },
    {
      // A label that would print as two currencies, its digest recomputed.
      name: 'label-imitating-another-amount',
      proof,
      result: relabel(result, (c) => (c[0].chain = 'BTC) 0, ETH (ETH')),
      ok: false,
      reason: 'is not a plain name',
    },
    {
      name: 'label-renamed-digest-left',
      proof,
      result: edit(result, (r) => (r.currencies[0].name = 'BTC')),
      ok: false,
      reason: 'is not the digest of its currencies',
    },
    {
      name: 'labels-swapped-in-the-proof',
      proof: edit(proof, (v) => {
        v.currencies.reverse();
        v.labels_digest = labelsDigest(v.currencies);
      }),
      result,
      ok: false,
      reason: 'are not the ones this proof was made for',
    },
    {
      // The first "proof" is the genuine one: a reader keeping the first would
      // accept, serde's own keeps the last.
      name: 'duplicate-key-in-the-proof',
      proof: proof.replace(/\n}\s*$/, `,\n  "proof": "${flip(p.proof, 100)}"\n}\n`),
      result,
      ok: false,
      reason: 'duplicate key "proof"',
    },
    {
      name: 'duplicate-key-in-result-json',
      proof,
      result: result.replace(/\n}\s*$/, ',\n  "n_bytes": 14\n}\n'),
      ok: false,
      reason: 'duplicate key "n_bytes"',
    },
    {
      name: 'byte-order-mark',
      proof: `\ufeff${proof}`,
      result,
      ok: false,
      reason: 'expected value at line 1 column 1',
    },
    {
      name: 'unknown-field-with-a-hostile-name',
      proof: edit(proof, (v) => (v[HOSTILE] = 1)),
      result,
      ok: false,
      reason: 'unknown field',
    },
    {
      name: 'empty-username',
      proof: edit(proof, (v) => (v.entry.username = '')),
      result,
      ok: false,
      reason: 'the username is empty',
    },
    {
      // The first commitment of the proof (x, y: 64 bytes after 0x) as (0, 0): the
      // EVM's point at infinity, which the transcript refuses.
      name: 'point-at-infinity-in-the-proof',
      proof: edit(proof, (v) => (v.proof = `0x${'0'.repeat(128)}${v.proof.slice(130)}`)),
      result,
      ok: false,
      reason: 'does not verify',
    },
  ];
}

// Writes each case's files to DIR/<name>/{proof.json,result.json}; returns the cases.
export function writeCases(fixtures, dir) {
  const all = cases(fixtures);
  for (const c of all) {
    mkdirSync(join(dir, c.name), { recursive: true });
    writeFileSync(join(dir, c.name, 'proof.json'), c.proof);
    writeFileSync(join(dir, c.name, 'result.json'), c.result);
  }
  return all;
}
