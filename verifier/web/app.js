// The page: reads the proof file; the round's commitment from the round registry
// through the user's JSON-RPC endpoint (one eth_call a check: the page's one request
// outside its own folder, carrying nothing about the user; see the
// Content-Security-Policy), or, with no registry set, result.json (picked, dropped,
// or from the page's own folder when served over HTTP); a ceremony file (SRS) only for
// a shape whose verifying key is not pinned in the module. Calls the WebAssembly
// verifier and shows the outcome.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const files = { proof: null, result: null, srs: null };
  let ready = null;

  // The registry and round may come in the page's address: #registry=0x..&round=N (a
  // link the custodian publishes; the user sees and may change both, and should
  // compare the registry with the address published elsewhere). Never the endpoint:
  // an endpoint the custodian runs could answer anything, and would learn who checks.
  const DEFAULT_RPC = $('rpc').value;
  const given = new URLSearchParams(location.hash.slice(1));
  for (const id of ['registry', 'round']) {
    if (given.has(id)) $(id).value = given.get(id);
  }
  let checks = 0;

  // The chain read's settings, or null (no registry: offline, from result.json).
  function chainSettings() {
    const registry = $('registry').value.trim();
    if (!registry) return null;
    const round = $('round').value.trim();
    return { rpc: $('rpc').value.trim(), registry, round: round === '' ? null : Number(round) };
  }

  function setState(state, text) {
    document.body.dataset.state = state;
    const box = $('outcome');
    box.className = state === 'ok' ? 'ok' : state === 'fail' ? 'fail' : '';
    $('state').textContent = text;
  }

  // An amount in base units, its digits grouped by three ("6,229,410,397,530"): a
  // decimal string as the verifier gives it, anything else shown as it is.
  function grouped(amount) {
    return /^[0-9]+$/.test(amount) ? amount.replace(/\B(?=([0-9]{3})+$)/g, ',') : amount;
  }

  function fillTable(id, rows) {
    const body = $(id).querySelector('tbody');
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement('tr');
      for (const [value, cls] of [[r.currency], [r.chain], [r.amount, 'amount']]) {
        const td = document.createElement('td');
        if (cls === 'amount') {
          // Grouped, on one line (the table scrolls sideways on a narrow screen);
          // the digits as given stay in data-value.
          td.textContent = grouped(value);
          td.dataset.value = value;
          td.className = cls;
        } else {
          td.textContent = value;
        }
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  function show(outcome, chain) {
    window.summaOutcome = outcome;
    $('reason').hidden = outcome.ok;
    $('details').hidden = !outcome.ok;
    if (!outcome.ok) {
      setState('fail', 'Not verified: this proof does not show your balances in the published totals.');
      $('reason').textContent = outcome.error;
      return;
    }
    setState(
      'ok',
      outcome.unsafeTestSrs
        ? 'Verified, but with the UNSAFE TEST SRS: this proves nothing.'
        : 'Verified: your balances are included in the custodian\'s published totals.',
    );
    $('test-srs').hidden = !outcome.unsafeTestSrs;
    $('username').textContent = outcome.username;
    fillTable('balances', outcome.balances);
    fillTable('totals', outcome.totals);
    $('root').textContent = outcome.root;
    $('shape').textContent = outcome.shape;
    $('setup').textContent = outcome.setup || '';
    $('source').textContent = outcome.round === null || outcome.round === undefined || !chain
      ? 'the result.json file (offline)'
      : `round ${outcome.round} of registry ${chain.registry} (compare it with the address the custodian published), read from ${window.SummaVerifier.plain(chain.rpc)}` +
        (chain.rpc === DEFAULT_RPC ? '' : ' (not this page\'s default endpoint: trust it only if you run it or chose it yourself)') +
        (outcome.resultMatchesChain ? '; your result.json matches the chain' : '');
    $('key').textContent = outcome.pinnedKey
      ? 'pinned in this verifier for the round\'s shape (derived from the circuit and the ceremony when the verifier was built)'
      : 'derived here from the circuit and the ceremony file';
    const t = outcome.timingsMs || {};
    const ms = (v) => (typeof v === 'number' ? `${v.toFixed(0)} ms` : 'n/a');
    $('timing').textContent = outcome.pinnedKey
      ? `checked in ${ms(t.total)}: verifying key ${ms(t.vk)}, proof ${ms(t.proof)}, no SRS file (verifier loaded in ${ms(t.load)})`
      : `checked in ${ms(t.total)}: SRS ${ms(t.srs)}, verifying key ${ms(t.vk)}, proof ${ms(t.proof)} ` +
        `(verifier loaded in ${ms(t.load)})`;
  }

  async function check() {
    const chain = chainSettings();
    // Only the latest check's answer is shown (an earlier one may come back later).
    const mine = ++checks;
    if (!files.proof || (!chain && !files.result)) {
      const missing = (chain ? ['proof'] : ['proof', 'result']).filter((k) => !files[k]);
      setState('pending', `Waiting for: ${missing.map((k) => ({ proof: 'your proof file', result: 'result.json' })[k]).join(', ')}.`);
      $('details').hidden = true;
      $('reason').hidden = true;
      return;
    }
    setState('checking', files.srs
      ? 'Checking… (deriving the verifying key from the ceremony file takes seconds)'
      : chain ? 'Reading the round from the chain, then checking…' : 'Checking…');
    $('details').hidden = true;
    $('reason').hidden = true;
    // Let the page paint "Checking…" before the (synchronous) verification: the
    // next frame, then the task after it.
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    try {
      await ready;
    } catch (e) {
      show({ ok: false, error: `The verifier could not be loaded in this browser: ${e.message}` }, null);
      return;
    }
    // The files' bytes as they are: the verifier reads them as the CLI does (a
    // TextDecoder would drop a byte-order mark that the CLI refuses).
    const options = { unsafeTestSrs: $('unsafe').checked };
    const srs = files.srs ? files.srs.bytes : null;
    const outcome = chain
      ? await window.SummaVerifier.verifyOnChain(files.proof.bytes, chain, files.result ? files.result.bytes : null, srs, options)
      : window.SummaVerifier.verify(files.proof.bytes, files.result.bytes, srs, options);
    if (mine !== checks) return;
    show(outcome, chain);
    $('outcome').focus();
  }

  function put(kind, name, bytes) {
    files[kind] = { name, bytes };
    $(`${kind}-name`).textContent = `loaded: ${name} (${bytes.length.toLocaleString('en-US')} bytes)`;
  }

  // A dropped file's kind, from its content.
  function kindOf(bytes) {
    try {
      const v = JSON.parse(new TextDecoder().decode(bytes));
      if (v && typeof v === 'object' && typeof v.kind === 'string' && v.kind.includes('proof')) return 'proof';
      if (v && typeof v === 'object' && 'root' in v) return 'result';
      return 'proof';
    } catch (_) {
      return 'srs';
    }
  }

  async function readFile(file) {
    return new Uint8Array(await file.arrayBuffer());
  }

  for (const kind of Object.keys(files)) {
    $(kind).addEventListener('change', async (e) => {
      const file = e.target.files[0];
      if (!file) return;
      put(kind, file.name, await readFile(file));
      check();
    });
  }
  $('unsafe').addEventListener('change', check);
  for (const id of ['rpc', 'registry', 'round']) $(id).addEventListener('change', check);
  $('again').addEventListener('click', check);

  const drop = $('drop');
  for (const ev of ['dragenter', 'dragover']) {
    document.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  document.addEventListener('dragleave', () => drop.classList.remove('over'));
  document.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    for (const file of e.dataTransfer.files) {
      const bytes = await readFile(file);
      put(kindOf(bytes), file.name, bytes);
    }
    check();
  });

  // Served over HTTP(S) (a custodian's static site), the files of the page's own
  // folder, when present. From file:// a page cannot read other files: pick them.
  async function fromFolder() {
    if (location.protocol !== 'http:' && location.protocol !== 'https:') return;
    // With a registry, the round comes from the chain: the page's one request.
    if (chainSettings()) return;
    const wanted = [['result', 'result.json'], ['proof', 'proof.json']];
    await Promise.all(
      wanted.map(async ([kind, name]) => {
        try {
          const r = await fetch(name, { cache: 'no-store', credentials: 'omit' });
          if (r.ok && !files[kind]) put(kind, name, new Uint8Array(await r.arrayBuffer()));
        } catch (_) {
          // Not published here: the user picks it.
        }
      }),
    );
  }

  ready = window.SummaVerifier.init();
  // For the tests and the benchmark: the module's load, awaited before timing a check.
  window.summaReady = ready;
  document.body.dataset.state = 'pending';
  fromFolder().then(check);
})();
