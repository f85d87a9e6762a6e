// tests/browser/chromium.mjs — the Chromium checks of tests/browser/run.sh, in one browser.
//
//   node tests/browser/chromium.mjs --chromium /usr/bin/chromium --spec api/openapi.yaml
//        --api http://127.0.0.1:PORT --page-origin http://localhost:PORT --profile DIR
//        [--skip docs|directory]...
//
// --api is the API through nginx; --page-origin is where the directory example is opened from
// (the same nginx under another host name: another origin to the browser, so the example's
// API calls are CORS requests). Every request of the browser goes through a route that lets
// through only these two origins (and data:/blob: URLs, which are not requests to anyone):
// anything else is aborted and fails the check. Debian's Chromium is launched headless with a
// fresh profile and no background networking (the machine's network is closed).
// Prints "browser: PASS|FAIL <check>: <figures>" per check; exits 1 when one failed.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import YAML from 'yaml';

const { values: opt } = parseArgs({
  options: {
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    spec: { type: 'string' },
    api: { type: 'string' },
    'page-origin': { type: 'string' },
    profile: { type: 'string' },
    skip: { type: 'string', multiple: true, default: [] },
  },
});
for (const name of ['spec', 'api', 'page-origin', 'profile']) {
  if (!opt[name]) {
    console.error(`chromium.mjs: --${name} is required`);
    process.exit(2);
  }
}
const API = new URL(opt.api).origin;
const PAGE = new URL(opt['page-origin']).origin;
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];
const failures = [];

function pass(check, figures) {
  console.log(`browser: PASS ${check}: ${figures}`);
}
function fail(check, why) {
  console.log(`browser: FAIL ${check}: ${why}`);
  failures.push(check);
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// ------------------------------------------------------------------ the browser

mkdirSync(opt.profile, { recursive: true });
const profile = mkdtempSync(join(opt.profile, 'chromium-'));
const launched = Date.now();
const context = await chromium.launchPersistentContext(profile, {
  executablePath: opt.chromium,
  headless: true,
  args: FLAGS,
  locale: 'en-US',
  timeout: 60_000,
});
context.setDefaultTimeout(20_000);
const browserVersion = context.browser()?.version() ?? 'chromium';
const launchMs = Date.now() - launched;

// Requests to anywhere but the API's and the page's origins are aborted and remembered.
const elsewhere = [];
await context.route('**/*', (route) => {
  const url = route.request().url();
  const origin = new URL(url).origin;
  if (origin === API || origin === PAGE) return route.continue();
  elsewhere.push(url);
  return route.abort('blockedbyclient');
});

/** A new tab whose console errors, uncaught exceptions and requests are recorded. */
async function openTab() {
  const page = await context.newPage();
  const seen = { errors: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.errors.push(`uncaught: ${e.message}`));
  page.on('request', (r) => seen.requests.push(r.url()));
  return { page, seen };
}

/** The problems common to every check: console errors and requests to elsewhere. */
function hygiene(seen, elsewhereBefore) {
  const problems = [];
  if (seen.errors.length) problems.push(`${seen.errors.length} console errors: ${seen.errors.slice(0, 3).join(' | ').slice(0, 600)}`);
  const outside = elsewhere.slice(elsewhereBefore);
  if (outside.length) problems.push(`${outside.length} requests to elsewhere, blocked: ${outside.slice(0, 5).join(', ')}`);
  return problems;
}

async function runCheck(name, fn) {
  if (opt.skip.includes(name)) return;
  const t0 = Date.now();
  try {
    const figures = await fn();
    pass(name, `${figures}; ${Date.now() - t0} ms`);
  } catch (e) {
    fail(name, e instanceof Error ? e.message : String(e));
  }
}

// --------------------------------------------------------------------------- docs

await runCheck('docs', async () => {
  const spec = YAML.parse(readFileSync(opt.spec, 'utf8'));
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths))
    for (const m of METHODS)
      if (item[m]) ops.push({ method: m.toUpperCase(), path, id: item[m].operationId, summary: item[m].summary });
  assert(ops.length > 0 && ops.every((o) => o.id), 'the spec has operations without operationId');

  const before = elsewhere.length;
  const { page, seen } = await openTab();
  const response = await page.goto(`${API}/docs`, { waitUntil: 'load' });
  const problems = [];
  assert(response && response.status() === 200, `GET /docs answered ${response?.status()}`);
  const headers = await response.headersArray();
  const csp = headers.filter((h) => h.name.toLowerCase() === 'content-security-policy');
  const type = headers.find((h) => h.name.toLowerCase() === 'content-type')?.value;
  if (type !== 'text/html; charset=utf-8') problems.push(`Content-Type ${type}`);
  if (csp.length !== 1 || !csp[0].value.startsWith("default-src 'none'; script-src 'sha256-"))
    problems.push(`Content-Security-Policy through nginx: ${JSON.stringify(csp.map((h) => h.value))}`);

  // Redoc has rendered once every operation has its section; each shows its summary and path.
  await page.waitForFunction((n) => document.querySelectorAll('[data-section-id*="/operation/"]').length >= n,
    ops.length);
  const sections = await page.$$eval('[data-section-id*="/operation/"]', (els) =>
    els.map((e) => [e.getAttribute('data-section-id').split('/operation/').pop(), e.textContent]));
  const byId = new Map(sections);
  const missing = ops.filter((o) => !byId.has(o.id));
  const incomplete = ops.filter((o) => byId.has(o.id) &&
    !(byId.get(o.id).includes(o.summary) && byId.get(o.id).includes(o.path)));
  if (missing.length) problems.push(`${missing.length} operations not on the page: ${missing.slice(0, 8).map((o) => `${o.method} ${o.path}`).join(', ')}`);
  if (incomplete.length) problems.push(`sections without their summary or path: ${incomplete.slice(0, 8).map((o) => o.id).join(', ')}`);

  // The page is alive: its search (a worker made from a blob: URL, allowed by the policy) finds
  // operations, and a result leads to one.
  await page.fill('input.search-input', 'agencies');
  const results = page.locator('[data-role="search:results"] li');
  await results.first().waitFor();
  const found = await results.count();
  await results.first().click();
  await page.waitForFunction(() => location.hash.includes('/operation/'));
  const hash = await page.evaluate(() => location.hash);
  await page.waitForTimeout(300); // late errors

  problems.push(...hygiene(seen, before));
  const own = seen.requests.filter((u) => !u.startsWith('blob:') && !u.startsWith('data:'));
  if (own.length !== 1) problems.push(`the page made ${own.length} requests (want only itself): ${own.slice(0, 5).join(', ')}`);
  await page.close();
  assert(problems.length === 0, problems.join('; '));
  return `${ops.length}/${ops.length} operations of the spec on the page with summary and path; ` +
    `search for "agencies" found ${found}, first result → ${hash}; 0 console errors; ` +
    `requests: the page itself only (+ ${seen.requests.length - own.length} blob:/data:), 0 to elsewhere; ` +
    `one CSP header through nginx; ${browserVersion}, launched in ${launchMs} ms`;
});

// ---------------------------------------------------------------------- directory

/** The API's own page of the public directory, as an anonymous caller (JSON). */
async function apiPage(query, lang = 'en') {
  const res = await fetch(`${API}/v1/agencies?${new URLSearchParams(query)}`, {
    headers: { 'Accept-Language': lang },
  });
  return { status: res.status, body: await res.json() };
}

/** The rows the page shows: [id, name]. */
async function shownRows(page) {
  return page.$$eval('#agencies tbody tr', (trs) => trs.map((tr) => [tr.dataset.id, tr.cells[0].textContent]));
}

async function waitPage(page, n, status = 'ready') {
  await page.waitForSelector(`body[data-status="${status}"][data-page="${n}"]`);
}

function sameRows(shown, apiRows, what) {
  const want = apiRows.map((a) => [a.id, a.name]);
  assert(JSON.stringify(shown) === JSON.stringify(want),
    `${what}: the page shows ${JSON.stringify(shown).slice(0, 300)}, the API ${JSON.stringify(want).slice(0, 300)}`);
}

await runCheck('directory', async () => {
  // A state with enough public agencies for three pages, and a page size that makes them.
  const all = await apiPage({ limit: 200, sort: 'name' });
  assert(all.status === 200, `GET /v1/agencies answered ${all.status}`);
  const perState = new Map();
  for (const a of all.body.data) perState.set(a.state, (perState.get(a.state) ?? 0) + 1);
  const [state, count] = [...perState].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))[0];
  assert(count >= 3, `no state has three public agencies (most: ${state}, ${count})`);
  const limit = Math.max(1, Math.floor((count - 1) / 2));
  const expected = [];
  let cursor;
  for (let i = 0; i < 3; i++) {
    const p = await apiPage({ state, limit, sort: 'name', ...(cursor ? { cursor } : {}) });
    assert(p.status === 200 && p.body.data.length > 0, `the API's page ${i + 1} of ${state}: ${p.status}`);
    expected.push(p.body);
    cursor = p.body.next_cursor;
  }
  const unfiltered = await apiPage({ limit, sort: 'name' });

  const before = elsewhere.length;
  const { page, seen } = await openTab();
  const cors = { requests: 0, allowed: 0, origins: new Set() };
  page.on('response', async (res) => {
    if (!res.url().startsWith(`${API}/v1/`)) return;
    cors.requests++;
    cors.origins.add((await res.request().allHeaders()).origin);
    if (res.headers()['access-control-allow-origin'] === PAGE) cors.allowed++;
  });
  const url = `${PAGE}/examples/directory/?api=${encodeURIComponent(API)}&lang=en&limit=${limit}`;
  const response = await page.goto(url);
  assert(response && response.status() === 200, `the page answered ${response?.status()}`);
  await waitPage(page, 1);
  sameRows(await shownRows(page), unfiltered.body.data, 'unfiltered page 1');

  // Filter by state, then page twice; each page is the API's own.
  await page.selectOption('select[name=state]', state);
  await page.waitForFunction((s) => new URLSearchParams(location.search).get('state') === s, state);
  await waitPage(page, 1);
  sameRows(await shownRows(page), expected[0].data, `${state} page 1`);
  for (const n of [2, 3]) {
    await page.click('#next');
    await waitPage(page, n);
    sameRows(await shownRows(page), expected[n - 1].data, `${state} page ${n}`);
  }
  const lastHasNext = !(await page.isDisabled('#next'));
  assert(lastHasNext === (expected[2].next_cursor !== null), `#next enabled=${lastHasNext} on page 3, API next_cursor ${expected[2].next_cursor}`);
  await page.click('#prev');
  await waitPage(page, 2);
  sameRows(await shownRows(page), expected[1].data, `${state} page 2 again (previous)`);

  // Spanish: the page's own labels and the same rows, fetched again with Accept-Language: es.
  await page.click('button[data-lang="es"]');
  await waitPage(page, 2);
  const es = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    h1: document.querySelector('h1').textContent,
    th: document.querySelector('#agencies th').textContent,
    next: document.querySelector('#next').textContent,
    status: document.querySelector('#agencies tbody tr td:nth-child(5)')?.textContent,
  }));
  assert(es.lang === 'es' && es.h1 === 'Directorio de agencias acreditadas' && es.th === 'Agencia' &&
    es.next === 'Siguiente', `Spanish labels: ${JSON.stringify(es)}`);
  sameRows(await shownRows(page), expected[1].data, `${state} page 2 in Spanish`);

  // A problem, in Spanish: the API's own title and messages, not the page's.
  const longQ = 'x'.repeat(201);
  const wantEs = await apiPage({ state, q: longQ, limit, sort: 'name' }, 'es');
  const wantEn = await apiPage({ state, q: longQ, limit, sort: 'name' }, 'en');
  assert(wantEs.status === 400 && wantEs.body.title !== wantEn.body.title,
    `the API's problem for a long q: ${wantEs.status} ${wantEs.body.title} / ${wantEn.body.title}`);
  await page.fill('input[name=q]', longQ);
  await page.click('#filters button[type=submit]');
  await waitPage(page, 1, 'error');
  const shownProblem = await page.textContent('#problem');
  const messages = wantEs.body.errors.map((e) => e.message);
  assert(shownProblem.includes(wantEs.body.title) && messages.every((m) => shownProblem.includes(m)),
    `the page shows "${shownProblem}", the API said "${wantEs.body.title}" ${JSON.stringify(messages)}`);
  // Back to English: the same problem in English.
  await page.click('button[data-lang="en"]');
  await waitPage(page, 1, 'error');
  const shownEn = await page.textContent('#problem');
  assert(shownEn.includes(wantEn.body.title), `in English the page shows "${shownEn}", the API said "${wantEn.body.title}"`);
  await page.waitForTimeout(200); // late errors

  // Every API call was cross-origin and allowed by CORS. The failed search answered 400, which
  // Chromium also reports on the console ("Failed to load resource"): that one is expected.
  const problems = [];
  const expectedErrors = seen.errors.filter((e) => /Failed to load resource: the server responded with a status of 400/.test(e));
  seen.errors = seen.errors.filter((e) => !expectedErrors.includes(e));
  if (expectedErrors.length > 2) problems.push(`${expectedErrors.length} failed loads (2 expected: the long q in es and en)`);
  problems.push(...hygiene(seen, before));
  if (cors.requests < 8 || cors.allowed !== cors.requests || cors.origins.size !== 1 || !cors.origins.has(PAGE))
    problems.push(`CORS: ${cors.allowed} of ${cors.requests} API answers allowed the page's origin; Origin headers sent: ${[...cors.origins].join(', ')}`);
  await page.close();
  assert(problems.length === 0, problems.join('; '));
  return `page on ${PAGE}, API through nginx on ${API}: ${cors.requests} cross-origin calls, each answered with ` +
    `Access-Control-Allow-Origin ${PAGE}; ${state} (${count} public agencies) at ${limit} a page: pages 1, 2, 3 ` +
    `and back to 2 equal the API's own (${expected.map((p) => p.data.length).join('+')} rows); Spanish labels, rows ` +
    `re-fetched; a 201-character q shows the API's problem "${wantEs.body.title}" in Spanish, then "${wantEn.body.title}"; ` +
    `0 console errors besides those 2 refused loads, 0 requests to elsewhere`;
});

await context.close();
process.exit(failures.length ? 1 : 0);
