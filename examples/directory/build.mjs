// build.mjs — bundles the directory example into dist/: src/main.ts (and openapi-fetch) into
// one ES module, dist/app.js, with public/ (index.html, style.css) beside it. `npm run build`
// generates the types and checks them with tsc first.
import { build } from 'esbuild';
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
rmSync(`${here}dist`, { recursive: true, force: true });
await build({
  entryPoints: [`${here}src/main.ts`],
  outfile: `${here}dist/app.js`,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
cpSync(`${here}public`, `${here}dist`, { recursive: true });
console.log('bundle: dist/index.html, dist/app.js, dist/style.css');
