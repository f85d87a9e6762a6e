// Holds api/openapi.yaml to the route tables in the code. Input: the output of
// `acredita routes` (METHOD, PATH, roles, scope per line). Checks that every route is
// documented and every documented operation is served, and that each operation's security
// names the route's scope (bearerAuth: [scope]) and its x-roles list the roles allowed.
// Usage: node tests/contract/routes.mjs ROUTES.tsv [--write]
//   --write puts the scopes and roles into api/openapi.yaml instead of checking them.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const specPath = join(root, 'api/openapi.yaml');
const tsv = process.argv[2];
const write = process.argv.includes('--write');
if (!tsv) {
  console.error('usage: node tests/contract/routes.mjs ROUTES.tsv [--write]');
  process.exit(2);
}
const doc = YAML.parseDocument(readFileSync(specPath, 'utf8'));
const spec = doc.toJS();
const routes = readFileSync(tsv, 'utf8').trim().split('\n').map((line) => {
  const [method, path, roles, scope] = line.split('\t');
  return { method: method.toLowerCase(), path: path.replace(/:([a-z_]+)/g, '{$1}'),
           roles: roles.split(',').filter((r) => r !== 'anonymous'),
           anonymous: roles.split(',').includes('anonymous'), scope: scope === '-' ? null : scope };
});

const failures = [];
const served = new Set(routes.map((r) => `${r.method} ${r.path}`));
for (const [path, item] of Object.entries(spec.paths)) {
  for (const m of ['get', 'post', 'put', 'patch', 'delete']) {
    if (item[m] && !served.has(`${m} ${path}`)) failures.push(`documented but not served: ${m.toUpperCase()} ${path}`);
  }
}
for (const r of routes) {
  const op = spec.paths[r.path]?.[r.method];
  if (!op) {
    if (!write) failures.push(`served but not documented: ${r.method.toUpperCase()} ${r.path}`);
    continue;
  }
  // Security: an operation open to anonymous callers also accepts no token ({}).
  // Open to anyone without a scope: no security at all; open to anonymous callers with a
  // scope for machine clients: no token ({}) or a token with that scope.
  const want = r.anonymous && !r.scope ? []
    : [...(r.anonymous ? [{}] : []), { bearerAuth: r.scope ? [r.scope] : [] }];
  const wantRoles = [...(r.anonymous ? ['anonymous'] : []), ...r.roles];
  if (write) {
    const flow = (v) => { const n = doc.createNode(v); n.flow = true; return n; };
    doc.setIn(['paths', r.path, r.method, 'security'], flow(want));
    doc.setIn(['paths', r.path, r.method, 'x-roles'], flow(wantRoles));
    continue;
  }
  const gotRoles = op['x-roles'] || [];
  if (JSON.stringify([...gotRoles].sort()) !== JSON.stringify([...wantRoles].sort()))
    failures.push(`${r.method.toUpperCase()} ${r.path}: x-roles ${JSON.stringify(gotRoles)}, code allows ${JSON.stringify(wantRoles)}`);
  if (r.scope) {
    const named = (op.security || []).some((s) => (s.bearerAuth || []).includes(r.scope));
    if (!named) failures.push(`${r.method.toUpperCase()} ${r.path}: security does not name the scope ${r.scope}`);
  }
}
if (write) {
  writeFileSync(specPath, doc.toString({ lineWidth: 0 }));
  console.log(`routes: wrote scopes and roles of ${routes.length} routes into api/openapi.yaml`);
  process.exit(0);
}
for (const f of failures) console.error(`FAIL ${f}`);
console.log(`routes: ${routes.length} routes checked against api/openapi.yaml, ${failures.length} failures`);
process.exit(failures.length ? 1 : 0);
