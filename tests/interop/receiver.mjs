#!/usr/bin/env node
// receiver.mjs — a webhook receiver on loopback for the integration tests
// (tests/integration/test_webhooks.c), verifying each delivery the way a partner would: with
// the `standardwebhooks` package (the Standard Webhooks reference library).
//
//   node tests/interop/receiver.mjs PORT STATE LOG
//
// STATE is a JSON file the test rewrites whenever it likes, read on every request:
//   {"secrets": {"<name>": "whsec_..."}, "modes": {"<name>": "ok" | "error" | "gone" |
//    "slow:<ms>" | "slow_once:<ms>"}}
// A POST to /hook/<name> is verified with that name's secret(s) (a list is accepted: after a
// rotation either may be asked for) and answered as its mode says: ok 204, error 500,
// gone 410, slow:<ms> 204 after ms, slow_once:<ms> the same the first time a message id is
// seen and 204 at once later. Each request is appended to LOG as one JSON line:
//   {"name", "id", "timestamp", "signature", "verified", "payload", "mode", "status", "at"}
// (at: milliseconds since the epoch, when the answer was sent).
import { createServer } from 'node:http';
import { appendFileSync, readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';

const [port, statePath, logPath] = process.argv.slice(2);
if (!port || !statePath || !logPath) {
  console.error('usage: node receiver.mjs PORT STATE LOG');
  process.exit(2);
}

const seen = new Set();

function state() {
  try {
    return JSON.parse(readFileSync(statePath, 'utf8'));
  } catch {
    return { secrets: {}, modes: {} };
  }
}

function verify(secrets, body, headers) {
  for (const secret of [].concat(secrets || [])) {
    try {
      return { ok: true, payload: new Webhook(secret).verify(body, headers) };
    } catch {
      /* the next secret, if any */
    }
  }
  return { ok: false, payload: null };
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const name = (req.url.match(/^\/hook\/([A-Za-z0-9_-]+)$/) || [])[1];
    if (req.method !== 'POST' || !name) {
      res.writeHead(404).end();
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const st = state();
    const mode = (st.modes && st.modes[name]) || 'ok';
    const { ok, payload } = verify(st.secrets && st.secrets[name], body, req.headers);
    const id = req.headers['webhook-id'];
    let status = ok ? 204 : 400;
    let delay = 0;
    if (ok && mode === 'error') status = 500;
    if (ok && mode === 'gone') status = 410;
    if (ok && mode.startsWith('slow:')) delay = Number(mode.slice(5));
    if (ok && mode.startsWith('slow_once:') && !seen.has(`${name} ${id}`)) delay = Number(mode.slice(10));
    seen.add(`${name} ${id}`);
    setTimeout(() => {
      appendFileSync(logPath, JSON.stringify({
        name, id, timestamp: req.headers['webhook-timestamp'],
        signature: req.headers['webhook-signature'], verified: ok, payload, mode, status,
        at: Date.now(),
      }) + '\n');
      if (!res.destroyed) res.writeHead(status).end();
    }, delay);
  });
});
server.listen(Number(port), '127.0.0.1', () => console.log(`receiver: listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
