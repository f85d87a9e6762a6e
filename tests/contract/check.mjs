#!/usr/bin/env node
// check.mjs — checks the HTTP responses the tests received against api/openapi.yaml.
//
//   node tests/contract/check.mjs [--spec api/openapi.yaml] CONTRACT_LOG
//
// CONTRACT_LOG is JSON Lines, one object per response a test received:
//   {"method":"GET","path":"/v1/users/7c0e…?limit=2","status":200,
//    "content_type":"application/json","body":"<response body text>"}
//
// For each line: the path (query stripped) is matched against the spec's path templates
// (a literal segment beats a {param} segment), then the operation (method), the response
// (exact status, else "4XX"-style range, else "default"), the media type (the Content-Type
// without parameters), and for JSON media types (application/json, anything +json) the body is
// validated with Ajv (JSON Schema 2020-12, the OpenAPI 3.1 dialect) against the schema.
// Bodies of other media types are not validated; their media type must still be declared.
//
// Two answers that HTTP itself requires are accepted although no operation lists them, when the
// spec describes them as reusable responses (components/responses):
//   - 404 to a path that no template matches      → components/responses/NotFound
//   - 405 to a method a documented path lacks     → components/responses/MethodNotAllowed
//   - 204 to OPTIONS on a documented path         → the CORS preflight, described in info
//
// Failures: undocumented path, method, status or content type; a JSON body that does not parse
// or does not match its schema. Exits 1 on any failure, and when the log is missing or empty
// (a check that checks nothing must fail). The last line is the summary:
//   contract: N responses checked, M failures

import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
const DOC_ID = 'openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MAX_DETAILED = 60; // failures printed in full; the rest are counted
const BODY_PREVIEW = 400;

function usage(msg) {
  if (msg) console.error(`contract: ${msg}`);
  console.error('usage: node tests/contract/check.mjs [--spec api/openapi.yaml] CONTRACT_LOG');
  process.exit(2);
}

// ---------------------------------------------------------------- arguments

let specPath = resolve(HERE, '../../api/openapi.yaml');
let logPath = null;
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--spec') {
      if (i + 1 >= args.length) usage('--spec needs a file');
      specPath = args[++i];
    } else if (args[i] === '-h' || args[i] === '--help') {
      usage();
    } else if (logPath === null) {
      logPath = args[i];
    } else {
      usage(`unexpected argument ${args[i]}`);
    }
  }
  if (logPath === null) logPath = process.env.CONTRACT_LOG || null;
  if (logPath === null) usage('no log given (argument or CONTRACT_LOG)');
}

// --------------------------------------------------------------------- spec

let doc;
try {
  doc = YAML.parse(readFileSync(specPath, 'utf8'));
} catch (e) {
  console.error(`contract: cannot read the spec ${specPath}: ${e.message}`);
  console.log('contract: 0 responses checked, 1 failures');
  process.exit(1);
}
if (!doc || typeof doc !== 'object' || !doc.paths) {
  console.error(`contract: ${specPath} has no paths`);
  console.log('contract: 0 responses checked, 1 failures');
  process.exit(1);
}

const ajv = new Ajv2020({
  strict: false, // OpenAPI keywords (example, discriminator, xml, externalDocs) are annotations
  allErrors: true,
  validateFormats: true,
});
addFormats(ajv); // includes the OpenAPI formats int32, int64, float, double, byte, binary, password
// The whole document is one schema resource, so "#/components/schemas/X" resolves inside it.
ajv.addSchema(doc, DOC_ID, undefined, false);

const escapePointer = (s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1');
const pointer = (parts) => '/' + parts.map(escapePointer).join('/');

function getAt(ptr) {
  let node = doc;
  for (const raw of ptr.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

// Follows local $refs ("#/…") of a non-schema object (path item, response). Returns
// {node, ptr} where ptr is the JSON pointer of the object finally reached.
function deref(node, ptr) {
  const seen = new Set();
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    const ref = node.$ref;
    if (!ref.startsWith('#') || seen.has(ref)) {
      throw new Error(`cannot follow $ref ${ref} at ${ptr}`);
    }
    seen.add(ref);
    ptr = decodeURIComponent(ref.slice(1));
    node = getAt(ptr);
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return { node, ptr };
}

// --------------------------------------------------------------- path match

// Base paths from servers[].url ("/", "/api", "https://host/api" → "", "/api").
const basePaths = (() => {
  const out = new Set(['']);
  for (const s of doc.servers || []) {
    if (!s || typeof s.url !== 'string') continue;
    let url = s.url.replace(/\{([^}]+)\}/g, (_, v) => s.variables?.[v]?.default ?? '');
    try {
      const p = new URL(url, 'http://localhost').pathname.replace(/\/+$/, '');
      out.add(p);
    } catch {
      /* not a URL: ignore */
    }
  }
  return [...out];
})();

const templates = Object.keys(doc.paths).map((tpl) => {
  const segs = tpl.split('/').slice(1);
  const res = segs.map((seg) => {
    if (!seg.includes('{')) return { kind: 2, literal: seg };
    const re = seg
      .split(/(\{[^}]*\})/)
      .map((part) => (part.startsWith('{') ? '([^/]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    // 0: the whole segment is one parameter; 1: a parameter mixed with literal text
    return { kind: /^\{[^}]*\}$/.test(seg) ? 0 : 1, re: new RegExp(`^${re}$`) };
  });
  return { tpl, segs: res };
});

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// Returns the best template for a concrete path, or null. Among matches the one whose first
// differing segment is more literal wins (/v1/users/me beats /v1/users/{id}).
function matchPath(path) {
  let best = null;
  for (const base of basePaths) {
    if (base && !(path === base || path.startsWith(base + '/'))) continue;
    const rest = base ? path.slice(base.length) || '/' : path;
    const parts = rest.split('/').slice(1);
    for (const t of templates) {
      if (t.segs.length !== parts.length) continue;
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const s = t.segs[i];
        if (s.kind === 2) ok = parts[i] === s.literal || safeDecode(parts[i]) === s.literal;
        else ok = s.re.test(parts[i]) || s.re.test(safeDecode(parts[i]));
      }
      if (!ok) continue;
      const score = t.segs.map((s) => s.kind);
      if (!best || compareScore(score, best.score) > 0) best = { tpl: t.tpl, score };
    }
  }
  return best ? best.tpl : null;
}

function compareScore(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

// ---------------------------------------------------------------- responses

function findResponse(responses, status) {
  if (!responses || typeof responses !== 'object') return null;
  const exact = String(status);
  if (exact in responses) return exact;
  const range = `${exact[0]}XX`;
  for (const k of Object.keys(responses)) if (k.toUpperCase() === range) return k;
  if ('default' in responses) return 'default';
  return null;
}

const bareType = (ct) =>
  String(ct || '')
    .split(';')[0]
    .trim()
    .toLowerCase();
const isJsonType = (t) => t === 'application/json' || /^[a-z0-9.+-]+\/[a-z0-9.+-]*\+json$/.test(t);

function findMedia(content, type) {
  const keys = Object.keys(content);
  const byBare = new Map(keys.map((k) => [bareType(k), k]));
  if (byBare.has(type)) return byBare.get(type);
  const [major] = type.split('/');
  if (byBare.has(`${major}/*`)) return byBare.get(`${major}/*`);
  if (byBare.has('*/*')) return byBare.get('*/*');
  return null;
}

const validators = new Map();
function validatorFor(ptr) {
  if (!validators.has(ptr)) {
    const ref = `${DOC_ID}#${ptr
      .split('/')
      .map((p) => encodeURIComponent(p).replace(/%7E/g, '~'))
      .join('/')}`;
    validators.set(ptr, ajv.compile({ $ref: ref }));
  }
  return validators.get(ptr);
}

// -------------------------------------------------------------------- check

const truncate = (s, n = BODY_PREVIEW) => {
  s = String(s ?? '');
  return s.length > n ? `${s.slice(0, n)}… (${s.length} bytes)` : s;
};

// One JSON style on the wire: compact. The offset of the first white space outside a string,
// or -1.
function spacedAt(text) {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === ' ' || c === '\n' || c === '\t' || c === '\r') return i;
  }
  return -1;
}

// Checks one logged response; returns a list of problems (empty when it conforms) and notes
// which operation it exercised.
function checkOne(entry, exercised) {
  const method = String(entry.method || '').toLowerCase();
  const rawPath = String(entry.path || '');
  const path = rawPath.split('?')[0].split('#')[0];
  const status = Number(entry.status);
  const type = bareType(entry.content_type);
  // body is the response text; a test that logged the parsed JSON value instead is accepted.
  const rawBody = entry.body ?? '';
  const body = typeof rawBody === 'string' ? rawBody : JSON.stringify(rawBody);

  if (!METHODS.includes(method)) return [`bad method "${entry.method}" in the log`];
  if (!path.startsWith('/')) return [`bad path "${rawPath}" in the log`];
  if (!Number.isInteger(status) || status < 100 || status > 599)
    return [`bad status "${entry.status}" in the log`];

  let responseNode;
  let responsePtr;
  const tpl = matchPath(path);
  if (tpl === null) {
    if (status === 404 && doc.components?.responses?.NotFound) {
      ({ node: responseNode, ptr: responsePtr } = deref(
        doc.components.responses.NotFound,
        '/components/responses/NotFound',
      ));
    } else {
      return [`undocumented path ${path}`];
    }
  } else {
    const { node: item, ptr: itemPtr } = deref(doc.paths[tpl], pointer(['paths', tpl]));
    const op = item && item[method];
    if (!op) {
      // OPTIONS (CORS preflight) is described once, in info.description, for every path.
      if (method === 'options' && status === 204) return [];
      if (status === 405 && doc.components?.responses?.MethodNotAllowed) {
        ({ node: responseNode, ptr: responsePtr } = deref(
          doc.components.responses.MethodNotAllowed,
          '/components/responses/MethodNotAllowed',
        ));
      } else {
        return [`undocumented method ${method.toUpperCase()} on ${tpl}`];
      }
    } else {
      exercised.add(`${method.toUpperCase()} ${tpl}`);
      const key = findResponse(op.responses, status);
      if (key === null) return [`undocumented status ${status} for ${method.toUpperCase()} ${tpl}`];
      ({ node: responseNode, ptr: responsePtr } = deref(
        op.responses[key],
        `${itemPtr}/${method}/responses/${escapePointer(key)}`,
      ));
    }
  }

  const content = responseNode?.content;
  const hasBody = String(body).length > 0;
  if (!content || Object.keys(content).length === 0) {
    // A Content-Type on an empty 204/304 is harmless; a body is not.
    if (hasBody)
      return [`undocumented content type ${type || '(none)'}: the response declares no content`];
    return [];
  }
  if (!type) {
    if (!hasBody) return method === 'head' ? [] : ['no body and no Content-Type, but content is declared'];
    return ['a body without Content-Type'];
  }
  const mediaKey = findMedia(content, type);
  if (mediaKey === null) {
    return [`undocumented content type ${type} (declared: ${Object.keys(content).join(', ')})`];
  }
  if (!isJsonType(type) || method === 'head') return [];

  let value = rawBody;
  if (typeof rawBody === 'string') {
    try {
      value = JSON.parse(rawBody);
    } catch (e) {
      return [`body is not valid JSON (${e.message}): ${truncate(body)}`];
    }
    const spaced = spacedAt(rawBody);
    if (spaced >= 0)
      return [`JSON is not compact (white space outside a string at ${spaced}): ${truncate(rawBody.slice(Math.max(0, spaced - 40)))}`];
  }
  const media = content[mediaKey];
  if (!media || media.schema === undefined) return [];
  const schemaPtr = `${responsePtr}/content/${escapePointer(mediaKey)}/schema`;
  let validate;
  try {
    validate = validatorFor(schemaPtr);
  } catch (e) {
    return [`the schema at ${schemaPtr} does not compile: ${e.message}`];
  }
  if (validate(value)) return [];
  const errs = (validate.errors || [])
    .slice(0, 10)
    .map((er) => {
      const extra =
        er.keyword === 'additionalProperties'
          ? ` (${er.params.additionalProperty})`
          : er.keyword === 'enum'
            ? ` (${JSON.stringify(er.params.allowedValues)})`
            : '';
      return `    ${er.instancePath || '(root)'} ${er.message}${extra}  [${er.schemaPath}]`;
    })
    .join('\n');
  return [`body does not match ${schemaPtr}:\n${errs}\n    body: ${truncate(body)}`];
}

// --------------------------------------------------------------------- main

if (!existsSync(logPath)) {
  console.log(`contract: FAILED: the log ${logPath} does not exist (no test recorded a response)`);
  console.log('contract: 0 responses checked, 0 failures');
  process.exit(1);
}

const lines = readFileSync(logPath, 'utf8').split('\n');
let checked = 0;
let failures = 0;
const exercised = new Set();
const seen = new Map(); // identical failures are printed once, with a count

lines.forEach((line, i) => {
  if (line.trim() === '') return;
  let entry;
  let problems;
  checked++;
  try {
    entry = JSON.parse(line);
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new Error('not an object');
    problems = checkOne(entry, exercised);
  } catch (e) {
    problems = [`log line is not a valid entry (${e.message}): ${truncate(line, 200)}`];
  }
  if (problems.length === 0) return;
  failures++;
  const head = entry
    ? `${String(entry.method).toUpperCase()} ${entry.path} → ${entry.status} ${entry.content_type ?? ''}`.trim()
    : `line ${i + 1}`;
  for (const p of problems) {
    const key = entry
      ? `${String(entry.method).toUpperCase()} ${String(entry.path).split('?')[0]} ${entry.status} ${p.split('\n')[0]}`
      : `line ${i + 1}`;
    if (seen.has(key)) {
      seen.get(key).count++;
      continue;
    }
    seen.set(key, { count: 1, text: `FAIL ${head} (${logPath}:${i + 1})\n  ${p}` });
  }
});

let printed = 0;
for (const { count, text } of seen.values()) {
  if (printed++ >= MAX_DETAILED) break;
  console.log(count > 1 ? `${text}\n  (and ${count - 1} more like it)` : text);
}
if (seen.size > MAX_DETAILED) console.log(`… ${seen.size - MAX_DETAILED} more distinct failures`);

// Information only: documented operations no test exercised.
const all = [];
for (const [tpl, raw] of Object.entries(doc.paths)) {
  let item;
  try {
    item = deref(raw, pointer(['paths', tpl])).node;
  } catch {
    continue;
  }
  for (const m of METHODS) if (item?.[m]) all.push(`${m.toUpperCase()} ${tpl}`);
}
const missed = all.filter((op) => !exercised.has(op));
console.log(
  `contract: ${all.length - missed.length} of ${all.length} documented operations exercised` +
    (missed.length ? `; not exercised: ${missed.join(', ')}` : ''),
);

if (checked === 0) console.log(`contract: FAILED: the log ${logPath} is empty (nothing was checked)`);
console.log(`contract: ${checked} responses checked, ${failures} failures`);
process.exit(checked === 0 || failures > 0 ? 1 : 0);
