// script/render-docs.mjs — renders the API reference page that GET /docs serves: one HTML file
// that loads nothing from elsewhere, and the Content-Security-Policy that fits it.
//
//   node script/render-docs.mjs SPEC OUT_HTML OUT_CSP
//
// CMakeLists.txt runs it at build time and embeds both outputs in the binary. The renderer is
// Redoc, through `redocly build-docs` from the contract tooling (tests/contract, installed by
// script/bootstrap), with script/docs.hbs as the page template. build-docs prerenders the page
// but points a <script src> at Redoc's CDN: that script is inlined here from the same redoc
// package the prerendering used (so hydration matches), and the one image the bundle would
// fetch (Redocly's logo in the menu's footer) becomes a data: URI. The policy allows exactly
// the page's own inline scripts (by hash), the styles Redoc injects, data: images and fonts,
// and Redoc's search worker (a blob: URL); nothing else, and no connections.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [spec, outHtml, outCsp] = process.argv.slice(2).map((p) => resolve(p));
if (process.argv.length !== 5) {
  console.error('usage: node script/render-docs.mjs SPEC OUT_HTML OUT_CSP');
  process.exit(2);
}
function fail(msg) {
  console.error(`render-docs: ${msg}`);
  process.exit(1);
}

// The CLI and, through its own resolution, the redoc package it renders with.
const fromContract = createRequire(join(root, 'tests/contract/package.json'));
let cliPkgPath;
try {
  cliPkgPath = fromContract.resolve('@redocly/cli/package.json');
} catch {
  fail('@redocly/cli is not installed in tests/contract: run script/bootstrap');
}
const cliPkg = JSON.parse(readFileSync(cliPkgPath, 'utf8'));
const cliBin = join(dirname(cliPkgPath), typeof cliPkg.bin === 'string' ? cliPkg.bin : cliPkg.bin.redocly);
const fromCli = createRequire(cliPkgPath);
const redocVersion = JSON.parse(readFileSync(fromCli.resolve('redoc/package.json'), 'utf8')).version;
const bundle = readFileSync(fromCli.resolve('redoc/bundles/redoc.standalone.js'), 'utf8');

const work = mkdtempSync(join(tmpdir(), 'acredita-docs-'));
let html;
let failure = null; // reported after the scratch directory is gone (process.exit skips finally)
try {
  const out = join(work, 'docs.html');
  const run = spawnSync(process.execPath, [cliBin, 'build-docs', spec, '--output', out,
    '--template', join(root, 'script/docs.hbs'), '--title', 'Acredita API reference',
    '--lint-config', 'off', '--theme.openapi.hideHostname=true', '--theme.openapi.downloadDefinitionUrl=/v1/openapi.yaml'], {
    cwd: work, // no redocly.yaml is picked up from the caller's directory
    encoding: 'utf8',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
           NO_UPDATE_NOTIFIER: '1' },
  });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    failure = `redocly build-docs exited ${run.status ?? run.signal}`;
  } else {
    html = readFileSync(out, 'utf8');
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failure) fail(failure);

// The CDN script tag becomes the bundle itself.
const cdnTag = /<script src="https:\/\/[^"]+\/redoc\.standalone\.js"><\/script>/g;
const tags = html.match(cdnTag) || [];
if (tags.length !== 1) fail(`expected one Redoc <script src> in build-docs' output, found ${tags.length}`);
if (!tags[0].includes(`/v${redocVersion}/`))
  fail(`build-docs points at ${tags[0]}, but the installed redoc is ${redocVersion}`);
if (/<\/script/i.test(bundle)) fail('the Redoc bundle contains "</script": it cannot be inlined as is');
const blankLogo = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E";
const inlined = bundle.replaceAll('https://cdn.redoc.ly/redoc/logo-mini.svg', blankLogo);
html = html.replace(cdnTag, () => `<script>${inlined}</script>`);

// Nothing may be loaded from elsewhere: no external script, stylesheet, image or frame.
const external = html.match(
  /<(?:script|link|img|iframe|frame|object|embed|source|video|audio)\b[^>]*\s(?:src|href|srcset|data)\s*=\s*["']?(?!data:)(?:[a-z]+:)?\/\/[^\s"'>]*/gi) || [];
const styles = [...html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)].map((m) => m[1]).join('\n');
const cssUrls = styles.match(/url\(\s*["']?(?:[a-z]+:)?\/\/[^)]*\)|@import/gi) || [];
if (external.length || cssUrls.length)
  fail(`the page would load from elsewhere: ${[...external, ...cssUrls].slice(0, 5).join(', ')}`);

// Every script is inline: hash each one for the policy.
const hashes = [];
for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  if (m[1].trim() !== '') fail(`a script tag with attributes: <script${m[1]}>`);
  hashes.push(`'sha256-${createHash('sha256').update(m[2], 'utf8').digest('base64')}'`);
}
if (hashes.length === 0) fail('no inline script found in the page');
const csp = [
  "default-src 'none'",
  `script-src ${hashes.join(' ')}`,
  "style-src 'unsafe-inline'", // Redoc's styled-components inject <style> elements
  'img-src data:',
  'font-src data:',
  'worker-src blob:', // the search index runs in a worker made from a blob: URL
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

for (const [path, text] of [[outHtml, html], [outCsp, csp]]) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}
console.log(`render-docs: ${outHtml} (${Math.round(html.length / 1024)} KiB, redoc ${redocVersion}, ${hashes.length} inline scripts)`);
