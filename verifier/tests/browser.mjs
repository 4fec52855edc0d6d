// The page in headless Chromium (Debian's, driven by playwright-core):
//
//   node verifier/tests/browser.mjs FIXTURES OUT
//
// 1. Served over HTTP from a folder holding the page and result.json (as a
//    custodian publishes it), no SRS file: the page loads result.json itself; the
//    user picks the proof with the keyboard; the key pinned for the shape; the
//    verified state shows the right record. Then a tampered proof: the failure and
//    its reason. Every request the page makes is to its own folder. At phone width
//    nothing overflows.
// 2. Opened from file://: the user picks the files.
// 3. The hostile inputs.
// 4. From the chain (FIXTURES/chain.json: a local node, chain.sh): the proof file
//    alone, the round read from the registry with one request (every request
//    asserted); a tampered proof; a proof of another round; a result.json that is
//    not the recorded one; the matching one.
// 5. A shape with no pinned key (the legacy layout), on the slow path.
// Screenshots: OUT/*.png. Timings (load, check) are printed for the README; with
// BROWSER_BENCH=1 (make verifier-bench) only step 1 runs, and its last line is
// {"chromium_ms": ..} (from picking the proof to the verdict, the module loaded).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UNSAFE, writeCases } from './hostile.mjs';

const [fixtures, outArg] = process.argv.slice(2);
assert.ok(fixtures && outArg, 'usage: node browser.mjs FIXTURES OUT');
const out = resolve(outArg);
const here = new URL('.', import.meta.url).pathname;
const web = resolve(process.env.SUMMA_VERIFIER_PKG || join(here, '..', 'pkg'), 'web');
const require = createRequire(join(resolve(process.env.PLAYWRIGHT_PREFIX), "package.json"));
const { chromium } = require('playwright-core');

mkdirSync(out, { recursive: true });
const site = join(out, 'site');
mkdirSync(site, { recursive: true });
for (const f of readdirSync(web)) copyFileSync(join(web, f), join(site, f));
copyFileSync(join(fixtures, 'result.json'), join(site, 'result.json'));
const bench = process.env.BROWSER_BENCH === '1';
class BenchDone extends Error {}
const proofPath = join(fixtures, 'proof.json');
const proof = JSON.parse(readFileSync(proofPath, 'utf8'));
const published = JSON.parse(readFileSync(join(fixtures, 'result.json'), 'utf8'));
const tamperedPath = join(out, 'tampered-proof.json');
const p = proof.proof;
writeFileSync(tamperedPath, JSON.stringify({ ...proof, proof: p.slice(0, 100) + (p[100] === '0' ? '1' : '0') + p.slice(101) }));

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };
const server = createServer((req, res) => {
  const name = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
  try {
    const body = readFileSync(join(site, name.replaceAll('..', '')));
    res.writeHead(200, { 'content-type': types[name.slice(name.lastIndexOf('.'))] || 'application/octet-stream' });
    res.end(body);
  } catch (_) {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 1200 } });
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

  // 1. Over HTTP: result.json comes from the page's folder; no SRS file.
  const t0 = Date.now();
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction(() => document.getElementById('result-name').textContent.includes('result.json'));
  // The module loaded before the clock starts (the target is the check itself).
  await page.evaluate(() => window.summaReady);
  const state = () => page.evaluate(() => document.body.dataset.state);
  assert.equal(await state(), 'pending');
  // Keyboard only: Tab to the proof picker first, then to the test-SRS checkbox.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'proof');
  await page.focus('#unsafe');
  await page.keyboard.press('Space');
  assert.equal(await page.isChecked('#unsafe'), true);
  const picked = Date.now();
  await page.setInputFiles('#proof', proofPath);
  await page.waitForFunction(() => ['ok', 'fail'].includes(document.body.dataset.state), null, { timeout: 120000 });
  const checkMs = Date.now() - picked;
  const outcome = await page.evaluate(() => window.summaOutcome);
  assert.equal(outcome.ok, true, outcome.error);
  assert.equal(outcome.pinnedKey, true);
  assert.match(await page.textContent('#key'), /pinned in this verifier/);
  assert.equal(await state(), 'ok');
  const text = await page.textContent('#outcome');
  assert.match(text, /Verified/);
  assert.match(text, /UNSAFE TEST SRS/);
  assert.ok(await page.isVisible('#test-srs'));
  assert.equal(await page.textContent('#username'), proof.entry.username);
  // Amounts: grouped by three with commas, the digits as given in data-value.
  const group = (digits) => digits.replace(/\B(?=([0-9]{3})+$)/g, ',');
  const cells = (id) => page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  const values = (id) => page.$$eval(`#${id} tbody td.amount`, (tds) => tds.map((td) => td.dataset.value));
  const rows = await cells('balances');
  assert.deepEqual(rows, published.currencies.map((c, i) => [c.name, c.chain, group(proof.entry.balances[i])]));
  assert.deepEqual(await values('balances'), proof.entry.balances);
  const totals = await cells('totals');
  assert.deepEqual(totals, published.currencies.map((c, i) => [c.name, c.chain, group(published.root.balances[i])]));
  assert.deepEqual(await values('totals'), published.root.balances);
  assert.ok(published.root.balances.some((b) => b.length > 3), 'a total long enough to be grouped');
  assert.equal(await page.textContent('#root'), published.root.hash);
  await page.screenshot({ path: join(out, 'verified.png'), fullPage: true });
  console.log(`chromium: page ready ${picked - t0} ms, check ${checkMs} ms (load ${outcome.timingsMs.load?.toFixed(0)} ms, verify ${outcome.timingsMs.total?.toFixed(0)} ms), timings ${JSON.stringify(outcome.timingsMs)}`);
  if (bench) {
    // Five more checks of the same files, each timed from pressing "Check again"
    // to the verdict.
    const runs = [checkMs];
    for (let i = 0; i < 5; i++) {
      await page.evaluate(() => { window.summaOutcome = null; document.body.dataset.state = 'test-picking'; });
      const at = Date.now();
      await page.click('#again');
      await page.waitForFunction(() => window.summaOutcome && document.body.dataset.state === 'ok', null, { timeout: 120000 });
      runs.push(Date.now() - at);
    }
    const inside = await page.evaluate(() => window.summaOutcome.timingsMs);
    console.log(`chromium: the module's load ${JSON.stringify(await page.evaluate(() => window.summaReady))}`);
    console.log(`chromium: the last check's own timings ${JSON.stringify(inside)}`);
    console.log(JSON.stringify({ chromium_ms: Math.min(...runs), chromium_runs_ms: runs, shape: outcome.shape, srs_file_needed: false }));
    throw new BenchDone();
  }

  // A tampered proof: refused, with its reason.
  await page.setInputFiles('#proof', tamperedPath);
  await page.waitForFunction(() => document.body.dataset.state === 'fail', null, { timeout: 120000 });
  assert.match(await page.textContent('#state'), /Not verified/);
  assert.ok(await page.isVisible('#reason'));
  assert.ok((await page.textContent('#reason')).length > 10);
  assert.equal(await page.isVisible('#details'), false);
  await page.screenshot({ path: join(out, 'failed.png'), fullPage: true });

  // Without the test-SRS box: refused, saying why.
  await page.setInputFiles('#proof', proofPath);
  await page.waitForFunction(() => document.body.dataset.state === 'ok', null, { timeout: 120000 });
  await page.click('#unsafe');
  await page.waitForFunction(() => document.body.dataset.state === 'fail', null, { timeout: 120000 });
  assert.match(await page.textContent('#reason'), /test SRS|unsafe/i);

  // Phone width: nothing wider than the screen.
  await page.click('#unsafe');
  await page.waitForFunction(() => document.body.dataset.state === 'ok', null, { timeout: 120000 });
  await page.setViewportSize({ width: 360, height: 800 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `the page is ${width} px wide at 360`);
  // No amount wraps: each is one line of text (a wrapped one has several boxes),
  // also the largest a balance can be (2^112 - 1, n_bytes 14), put in the first
  // cell: its table scrolls sideways, the page stays 360 px wide.
  await page.$eval('td.amount', (td, text) => { td.textContent = text; }, group((2n ** 112n - 1n).toString()));
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 360, 'the page widened for a long amount');
  const lines = await page.$$eval('td.amount', (tds) => tds.map((td) => {
    const range = document.createRange();
    range.selectNodeContents(td);
    return [td.textContent, new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size];
  }));
  assert.ok(lines.length >= 4, `amounts shown: ${JSON.stringify(lines)}`);
  for (const [amount, n] of lines) assert.equal(n, 1, `${amount} spans ${n} lines at 360 px`);
  await page.screenshot({ path: join(out, 'phone.png'), fullPage: true });

  const own = new Set(['index.html', 'style.css', 'summa_verifier_embed.js', 'app.js', 'result.json', 'proof.json']);
  for (const url of requests) {
    assert.ok(url.startsWith(`${origin}/`), `a request outside the page's folder: ${url}`);
    assert.ok(own.has(url.slice(origin.length + 1)), `an unexpected request: ${url}`);
  }
  console.log(`chromium: requests over HTTP: ${requests.map((u) => u.slice(origin.length + 1)).join(', ')}`);
  assert.deepEqual(errors.filter((e) => !/404|Failed to load resource/.test(e)), []);

  // 2. From file://: everything picked.
  const filePage = await context.newPage();
  const fileRequests = [];
  filePage.on('request', (r) => fileRequests.push(r.url()));
  await filePage.goto(pathToFileURL(join(site, 'index.html')).href);
  await filePage.check('#unsafe');
  await filePage.setInputFiles('#result', join(fixtures, 'result.json'));
  await filePage.setInputFiles('#proof', proofPath);
  await filePage.waitForFunction(() => ['ok', 'fail'].includes(document.body.dataset.state), null, { timeout: 120000 });
  const fileOutcome = await filePage.evaluate(() => window.summaOutcome);
  assert.equal(fileOutcome.ok, true, fileOutcome.error);
  assert.equal(fileOutcome.pinnedKey, true);
  await filePage.screenshot({ path: join(out, 'file-url.png'), fullPage: true });
  for (const url of fileRequests) assert.ok(url.startsWith('file://'), `a request from file://: ${url}`);
  console.log(`chromium: file:// requests: ${fileRequests.length}, all file://`);

  // 3. The table of hostile inputs (hostile.mjs): the verdict and reason that the
  // command line and the module give (node.test.mjs), shown by the page, with
  // nothing on it that a browser would obey (no bidi override, no invisible text).
  const table = writeCases(fixtures, join(out, 'hostile'));
  // Each file picked, then the check that change started, waited for: the state
  // and outcome are cleared first, so that an earlier check's verdict, still on
  // the page when the change's handler has not run yet, is not taken for it.
  const pickAndCheck = async (input, path) => {
    await filePage.evaluate(() => {
      window.summaOutcome = null;
      document.body.dataset.state = 'test-picking';
    });
    await filePage.setInputFiles(input, path);
    await filePage.waitForFunction(() => window.summaOutcome && ['ok', 'fail'].includes(document.body.dataset.state), null, { timeout: 120000 });
  };
  for (const c of table) {
    await pickAndCheck('#result', join(out, 'hostile', c.name, 'result.json'));
    await pickAndCheck('#proof', join(out, 'hostile', c.name, 'proof.json'));
    const o = await filePage.evaluate(() => window.summaOutcome);
    assert.equal(o.ok, c.ok, `${c.name}: the page says ${JSON.stringify(o)}`);
    const shown = await filePage.textContent('#outcome');
    assert.doesNotMatch(shown, UNSAFE, `${c.name}: ${JSON.stringify(shown)}`);
    if (c.ok) {
      assert.match(shown, /Verified/, c.name);
    } else {
      assert.ok((await filePage.textContent('#reason')).includes(c.reason), `${c.name}: ${o.error}\n  expected: ${c.reason}`);
      assert.equal(await filePage.isVisible('#details'), false, c.name);
    }
  }
  console.log(`chromium: ${table.length} hostile inputs, the same verdicts and reasons as the command line and the module`);

  // 4. From the chain: the proof file alone.
  const { rpc, registry } = JSON.parse(readFileSync(join(fixtures, 'chain.json'), 'utf8'));
  const chainPage = await context.newPage();
  const chainRequests = [];
  chainPage.on('request', (r) => chainRequests.push({ url: r.url(), method: r.method(), body: r.postData() }));
  const chainErrors = [];
  chainPage.on('pageerror', (e) => chainErrors.push(e.message));
  // The registry from the link; the endpoint typed by the user (a link cannot set it).
  await chainPage.goto(`${origin}/index.html#registry=${registry}&rpc=https://custodian.example`);
  assert.notEqual(await chainPage.inputValue('#rpc'), 'https://custodian.example');
  await chainPage.fill('#rpc', rpc);
  await chainPage.press('#rpc', 'Tab');
  await chainPage.check('#unsafe');
  const pickOn = async (input, path, state) => {
    await chainPage.evaluate(() => { window.summaOutcome = null; document.body.dataset.state = 'test-picking'; });
    await chainPage.setInputFiles(input, path);
    await chainPage.waitForFunction((s) => window.summaOutcome && document.body.dataset.state === s, state, { timeout: 120000 });
    return chainPage.evaluate(() => window.summaOutcome);
  };
  const proofB = join(fixtures, 'proof-b.json');
  const before = chainRequests.length;
  const onChain = await pickOn('#proof', proofB, 'ok');
  assert.equal(onChain.round, 1);
  assert.equal(onChain.pinnedKey, true);
  assert.match(await chainPage.textContent('#source'), new RegExp(`round 1 of registry ${registry}`));
  assert.match(await chainPage.textContent('#source'), /not this page's default endpoint/);
  const reads = chainRequests.slice(before);
  assert.equal(reads.length, 1, `one request for the check: ${JSON.stringify(reads)}`);
  assert.equal(reads[0].url.replace(/\/$/, ''), rpc);
  assert.equal(reads[0].method, 'POST');
  const body = JSON.parse(reads[0].body);
  assert.equal(body.method, 'eth_call');
  assert.deepEqual(Object.keys(body.params[0]).sort(), ['data', 'to']);
  // Nothing of the user's goes out: the call is latest() (4 bytes), to the registry.
  assert.equal(body.params[0].data, '0x52bfe789');
  assert.equal(body.params[0].to.toLowerCase(), registry.toLowerCase());
  const proofBText = readFileSync(proofB, 'utf8');
  for (const secret of [JSON.parse(proofBText).entry.username, ...JSON.parse(proofBText).entry.balances]) {
    assert.ok(!reads[0].body.includes(secret), `the request carries ${secret}`);
  }
  await chainPage.screenshot({ path: join(out, 'chain-verified.png'), fullPage: true });
  const tamperedB = join(out, 'tampered-proof-b.json');
  const pb = JSON.parse(proofBText);
  writeFileSync(tamperedB, JSON.stringify({ ...pb, proof: pb.proof.slice(0, 100) + (pb.proof[100] === '0' ? '1' : '0') + pb.proof.slice(101) }));
  assert.match((await pickOn('#proof', tamperedB, 'fail')).error, /does not verify/);
  await chainPage.screenshot({ path: join(out, 'chain-tampered.png'), fullPage: true });
  assert.match((await pickOn('#proof', proofPath, 'fail')).error, /root/);
  await chainPage.screenshot({ path: join(out, 'chain-other-round.png'), fullPage: true });
  await pickOn('#proof', proofB, 'ok');
  assert.match((await pickOn('#result', join(fixtures, 'result.json'), 'fail')).error, /differs from the round's on-chain record: its root/);
  await chainPage.screenshot({ path: join(out, 'chain-result-mismatch.png'), fullPage: true });
  const matches = await pickOn('#result', join(fixtures, 'result-b.json'), 'ok');
  assert.equal(matches.resultMatchesChain, true);
  assert.match(await chainPage.textContent('#source'), /matches the chain/);
  for (const r of chainRequests) {
    assert.ok(r.url.startsWith(`${origin}/`) || r.url.replace(/\/$/, '') === rpc, `a request to ${r.url}`);
    if (!r.url.startsWith(`${origin}/`)) assert.equal(JSON.parse(r.body).method, 'eth_call');
  }
  assert.deepEqual(chainErrors, []);
  console.log(`chromium: from the chain, ${chainRequests.filter((r) => !r.url.startsWith(origin)).length} eth_call reads, one per check, no other request outside the page's folder`);

  // 5. A shape with no pinned key: asked for the ceremony file, then derived.
  const legacy = join(fixtures, 'legacy');
  await pickAndCheck('#result', join(legacy, 'result.json'));
  await pickAndCheck('#proof', join(legacy, 'proof.json'));
  assert.match(await filePage.textContent('#reason'), /no verifying key is pinned.*takes seconds/);
  await filePage.screenshot({ path: join(out, 'slow-path-asked.png'), fullPage: true });
  await pickAndCheck('#srs', join(legacy, 'srs.bin'));
  const slow = await filePage.evaluate(() => window.summaOutcome);
  assert.equal(slow.ok, true, slow.error);
  assert.equal(slow.pinnedKey, false);
  assert.match(await filePage.textContent('#key'), /derived here/);
  await filePage.screenshot({ path: join(out, 'slow-path.png'), fullPage: true });
  console.log(`chromium: a shape with no pinned key: asked for the SRS file, then verified (key derived in ${slow.timingsMs.vk.toFixed(0)} ms)`);
} catch (e) {
  if (!(e instanceof BenchDone)) {
    failed = true;
    console.error(e);
  }
} finally {
  await browser.close();
  server.close();
}
console.log(`browser test: screenshots in ${out}`);
process.exit(failed ? 1 : 0);
