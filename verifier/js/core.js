// The JavaScript side of the verifier's WebAssembly ABI (verifier/src/wasm.rs).
// Not loaded as is: verifier/js/pack.mjs wraps it into the ES module
// pkg/summa_verifier.js (browser and Node) and into the page's classic script
// pkg/web/summa_verifier_embed.js (which must also work from file://, where a
// page can load neither modules nor other files). Both share this one text.
//
// verify() never throws: every failure, including a trap of the module on
// malformed input (it is built with panic=abort), is returned as
// { ok: false, error: "a sentence" }, and a trapped instance is replaced.

let compiledModule = null;
let instance = null;
let loadMs = null;

// The module's one import: a clock for its timings.
const imports = { summa: { now_ms: () => now() } };

const now = () =>
  typeof performance !== 'undefined' && performance.now ? performance.now() : Date.now();

function refused(error) {
  return {
    ok: false,
    error,
    username: null,
    balances: [],
    root: null,
    totals: [],
    shape: null,
    unsafeTestSrs: false,
    setup: null,
    pinnedKey: false,
    round: null,
    resultMatchesChain: null,
    timingsMs: null,
  };
}

// Compiles and instantiates the module from its bytes (Uint8Array, ArrayBuffer) or
// a Response. Returns { loadMs }.
async function initFrom(source) {
  const start = now();
  let bytes = source;
  if (typeof Response !== 'undefined' && source instanceof Response) {
    bytes = await source.arrayBuffer();
  }
  if (!(bytes instanceof ArrayBuffer || ArrayBuffer.isView(bytes))) {
    throw new TypeError('init: expected the .wasm file as bytes (Uint8Array or ArrayBuffer)');
  }
  compiledModule = await WebAssembly.compile(bytes);
  instance = await WebAssembly.instantiate(compiledModule, imports);
  loadMs = now() - start;
  // The code a check spends its time in, run once now (a pinned key read, an MSM,
  // a pairing): the engine optimises it before the user's first check.
  const warmStart = now();
  instance.exports.summa_warm_up();
  const warmUpMs = now() - warmStart;
  return { loadMs, warmUpMs };
}

function asBytes(value, what) {
  if (typeof value === 'string') return new TextEncoder().encode(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new Error(`${what} must be ${what === 'The SRS' ? 'a Uint8Array' : 'a string'}, not ${value === null ? 'null' : typeof value}.`);
}

// The options, checked strictly: an unknown option is refused (a misspelt
// `user` must not silently check nothing), and so is a value of the wrong type.
// An empty username is passed on: the verifier refuses it, as the CLI does.
const OPTIONS = ['username', 'balances', 'unsafeTestSrs'];

function cleanOptions(options) {
  const out = {};
  if (options === undefined || options === null) return out;
  if (typeof options !== 'object' || Array.isArray(options)) throw new Error('The options must be an object.');
  const unknown = Object.keys(options).filter((k) => !OPTIONS.includes(k));
  if (unknown.length > 0) {
    throw new Error(`Unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}: the options are ${OPTIONS.join(', ')}.`);
  }
  if (options.username !== undefined && options.username !== null) {
    if (typeof options.username !== 'string') throw new Error('The expected username must be a string.');
    out.username = options.username;
  }
  if (options.balances !== undefined && options.balances !== null) {
    if (!Array.isArray(options.balances) || !options.balances.every((b) => typeof b === 'string')) {
      throw new Error('The expected balances must be a list of decimal strings, in the published currency order.');
    }
    out.balances = options.balances.slice();
  }
  if (options.unsafeTestSrs !== undefined && options.unsafeTestSrs !== false) {
    if (options.unsafeTestSrs !== true) throw new Error('unsafeTestSrs must be true or false.');
    out.unsafeTestSrs = true;
  }
  return out;
}

// Text the module did not escape (a panic message quoting the files, the endpoint's
// words, the endpoint the page shows back), made plain: control, bidirectional,
// invisible and blank-looking characters as \u{..}, as summa_agg::text::shown does
// for the module's own messages.
const plain = (s) =>
  s.replace(/[\u0000-\u001f\u007f-\u00a0\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202f\u205f-\u206f\u3164\ufeff\uffa0]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);

function panicMessage() {
  try {
    const memory = instance.exports.memory;
    const at = instance.exports.summa_panic_message();
    const len = new DataView(memory.buffer).getUint32(at, true);
    return new TextDecoder().decode(new Uint8Array(memory.buffer, at + 4, len));
  } catch (_) {
    return '';
  }
}

// verify(proofJson, resultJson, srs, options) -> outcome (see docs/browser.md).
// srs null or undefined: the verifying key pinned in the module for the shape.
function verify(proofJson, resultJson, srs, options) {
  return verifyWith(proofJson, resultJson, srs, options, null);
}

// A string handed back by the module (its length, then UTF-8), freed.
function takeString(ex, out) {
  const len = new DataView(ex.memory.buffer).getUint32(out, true);
  const text = new TextDecoder().decode(new Uint8Array(ex.memory.buffer, out + 4, len));
  ex.summa_free(out, 4 + len);
  return text;
}

// The eth_call data that reads round `round` of the registry (null: the latest),
// made by the module from the registry's ABI.
function chainCall(round) {
  const ex = instance.exports;
  const request = new TextEncoder().encode(JSON.stringify(round === null ? {} : { round }));
  const ptr = ex.summa_alloc(request.length);
  new Uint8Array(ex.memory.buffer, ptr, request.length).set(request);
  const answer = JSON.parse(takeString(ex, ex.summa_chain_call(ptr, request.length)));
  ex.summa_free(ptr, request.length);
  return answer;
}

// verifyOnChain(proofJson, { rpc, registry, round }, resultJson, srs, options)
//   -> Promise<outcome>
// The round's commitment (root, totals, labels, verifying key's digest) is read from
// the round registry at `registry` through the Ethereum JSON-RPC endpoint `rpc`
// (one eth_call: the one request; nothing about the user is sent), `round` an id or
// null for the latest. A resultJson given too (or null) must be the recorded one.
async function verifyOnChain(proofJson, chain, resultJson, srs, options) {
  if (!instance) {
    return refused('The verifier is not initialised: await its default export (init) first.');
  }
  const { rpc, registry } = chain || {};
  const round = chain && chain.round !== undefined ? chain.round : null;
  if (typeof rpc !== 'string' || !/^https?:\/\/[^\s]+$/.test(rpc)) {
    return refused('The chain endpoint must be an http(s) URL.');
  }
  if (typeof registry !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(registry)) {
    return refused('The registry must be an address: 0x and 40 hex digits.');
  }
  if (round !== null && !(Number.isSafeInteger(round) && round >= 0)) {
    return refused('The round must be a whole number, or none for the latest round.');
  }
  let call;
  try {
    call = chainCall(round);
  } catch (e) {
    return refused(plain(`The round's read could not be made: ${(e && e.message) || e}`));
  }
  if (call.error) return refused(call.error);
  let returned;
  try {
    const response = await fetch(rpc, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_call', params: [{ to: registry, data: call.data }, 'latest'] }),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
    const answer = await response.json();
    if (answer && answer.error) {
      const why = answer.error.message === undefined ? JSON.stringify(answer.error) : String(answer.error.message);
      return refused(plain(`The endpoint ${rpc} refused the read of the round (no such round, or no registry at ${registry}): ${why.slice(0, 300)}`));
    }
    returned = answer && answer.result;
    if (typeof returned !== 'string') return refused(plain(`The endpoint ${rpc} gave no answer to the read of the round.`));
  } catch (e) {
    return refused(plain(`The round's commitment could not be read from ${rpc}: ${(e && e.message) || e}`));
  }
  return verifyWith(proofJson, resultJson === null || resultJson === undefined ? '' : resultJson, srs, options, { round, returned });
}

function verifyWith(proofJson, resultJson, srs, options, chain) {
  if (!instance) {
    return refused('The verifier is not initialised: await its default export (init) first.');
  }
  const start = now();
  let inputs;
  let opts;
  try {
    inputs = [
      asBytes(proofJson, 'The proof'),
      asBytes(resultJson, 'The result'),
      // No SRS file (null or undefined): the key pinned in the module for the shape.
      srs == null ? new Uint8Array(0) : asBytes(srs, 'The SRS'),
      new TextEncoder().encode(JSON.stringify(chain ? { ...cleanOptions(options), chain } : cleanOptions(options))),
    ];
  } catch (e) {
    return refused(e.message);
  }
  const ex = instance.exports;
  const buffers = [];
  try {
    for (const bytes of inputs) {
      const ptr = ex.summa_alloc(bytes.length);
      new Uint8Array(ex.memory.buffer, ptr, bytes.length).set(bytes);
      buffers.push([ptr, bytes.length]);
    }
    const text = takeString(ex, ex.summa_verify(...buffers.flat()));
    for (const [ptr, n] of buffers) ex.summa_free(ptr, n);
    const outcome = Object.assign(refused(null), JSON.parse(text));
    outcome.timingsMs = Object.assign({}, outcome.timingsMs, { total: now() - start, load: loadMs });
    if (outcome.ok !== true) outcome.ok = false;
    if (!outcome.ok && !outcome.error) outcome.error = 'The proof was not verified.';
    return outcome;
  } catch (e) {
    // A trap (a panic aborts the module): its message, then a fresh instance.
    const why = plain(panicMessage() || (e && e.message) || String(e));
    try {
      instance = new WebAssembly.Instance(compiledModule, imports);
    } catch (_) {
      instance = null;
    }
    return refused(`The files could not be checked: the verifier failed on them (${why}). They are malformed or not the custodian's.`);
  }
}
