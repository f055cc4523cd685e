// Time to action: drives balance crossings in the stand-alone sandbox and records when
// the Slack-style message arrives here. Run by bench/time_to_action, once per system.
//
//   node time_to_action.mjs SANDBOX_URL WORK_DIR ACCOUNTS SPACING_MS SETTLE_MS
//
// 1. Listens on 127.0.0.1 (an ephemeral port, written to WORK_DIR/sink.port):
//    POST /slack      a Slack incoming webhook; every acct_NNN in the body is noted
//                     with the arrival time
//    POST /alerts     an Alertmanager webhook receiver standing for "a script": for
//                     each firing alert it at once asks the sandbox for a top-up of the
//                     account in the alert's labels (the reference stack's action)
// 2. When WORK_DIR/go exists, empties acct_001 … acct_ACCOUNTS one after another, each
//    to USD 100, SPACING_MS ± 50% apart (a random phase against the 1 s polls), then
//    waits SETTLE_MS for what is still on its way.
// 3. Writes WORK_DIR/messages.tsv: "<unix µs>\t<account>" per account named per message.
import { createServer, request } from 'node:http';
import { existsSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [sandboxUrl, work, accountsText, spacingText, settleText] = process.argv.slice(2);
const accounts = Number(accountsText);
const spacingMs = Number(spacingText);
const settleMs = Number(settleText);
const sandbox = new URL(sandboxUrl);
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const name = (i) => `acct_${String(i).padStart(3, '0')}`;

const messages = [];
let topUps = 0;

function post(path, body, headers) {
  return new Promise((resolve, reject) => {
    const req = request({ host: sandbox.hostname, port: sandbox.port, path, method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = nowUs();
    const body = Buffer.concat(chunks).toString();
    if (req.url === '/slack') {
      for (const account of new Set(body.match(/acct_\d{3}/g) ?? [])) messages.push([at, account]);
      res.end('ok');
      return;
    }
    if (req.url === '/alerts') {
      res.end('ok');
      const hook = JSON.parse(body);
      for (const alert of hook.alerts ?? []) {
        if (alert.status !== 'firing') continue;
        const account = alert.labels.account;
        topUps += 1;
        post('/v1/topups', 'amount=990000&currency=usd&description=reference', {
          Authorization: 'Basic ' + Buffer.from('sk_test_bench:').toString('base64'),
          'Stripe-Account': account,
          'Idempotency-Key': `reference-${account}-${alert.startsAt}`,
          'Content-Type': 'application/x-www-form-urlencoded',
        }).catch((e) => console.error(`top-up for ${account} failed: ${e.message}`));
      }
      return;
    }
    res.statusCode = 404;
    res.end();
  });
});

server.listen(0, '127.0.0.1', async () => {
  writeFileSync(`${work}/sink.port`, String(server.address().port));
  while (!existsSync(`${work}/go`)) await sleep(50);
  for (let i = 1; i <= accounts; i += 1) {
    await sleep(spacingMs * (0.5 + Math.random()));
    const status = await post(`/_sandbox/accounts/${name(i)}`, '{"balance":"USD 100"}', { 'Content-Type': 'application/json' });
    if (status !== 200) throw new Error(`the sandbox refused to change ${name(i)}: HTTP ${status}`);
  }
  await sleep(settleMs);
  writeFileSync(`${work}/messages.tsv`, messages.map(([at, account]) => `${at}\t${account}\n`).join(''));
  console.log(`crossings=${accounts} messages=${messages.length} scripted_top_ups=${topUps}`);
  server.close();
  process.exit(0);
});
