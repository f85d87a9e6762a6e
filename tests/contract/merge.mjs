// Merges OpenAPI fragments (api/fragments/*.yaml: top-level `paths` and `components`) into
// api/openapi.yaml. Fails when a fragment redefines a path or a component.
// Usage: node tests/contract/merge.mjs [--write] [fragment.yaml …]
// (without --write: prints the merged file; without fragments: all of api/fragments)
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const base = YAML.parse(readFileSync(join(root, 'api/openapi.yaml'), 'utf8'));
const dir = join(root, 'api/fragments');
// Fragments named on the command line, or all of api/fragments.
const named = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = named.length
  ? named.map((f) => join(root, f))
  : existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(dir, f)) : [];
let clash = false;
for (const f of files) {
  const frag = YAML.parse(readFileSync(f, 'utf8')) || {};
  for (const [p, item] of Object.entries(frag.paths || {})) {
    if (base.paths[p]) { console.error(`${f}: path ${p} exists`); clash = true; }
    base.paths[p] = item;
  }
  for (const [kind, entries] of Object.entries(frag.components || {})) {
    base.components[kind] ??= {};
    for (const [name, v] of Object.entries(entries)) {
      if (base.components[kind][name]) { console.error(`${f}: components.${kind}.${name} exists`); clash = true; }
      base.components[kind][name] = v;
    }
  }
  for (const t of frag.tags || []) if (!base.tags.some((x) => x.name === t.name)) base.tags.push(t);
}
if (clash) process.exit(1);
const text = YAML.stringify(base, { lineWidth: 0 });
if (process.argv.includes('--write')) writeFileSync(join(root, 'api/openapi.yaml'), text);
else process.stdout.write(text);
