// The official stripe npm package against topupd's sandbox.
//   node stripe_peer.js client PORT SECRET_KEY  → one JSON line about balance and top-ups
//   node stripe_peer.js receive WEBHOOK_SECRET  → prints its port, then one JSON line per
//                                                 webhook checked with constructEvent
//   node stripe_peer.js sign FILE SECRET UNIX   → the Stripe-Signature stripe-node makes for FILE
//   node stripe_peer.js post URL FILE SECRET CA → POSTs FILE over HTTPS (trusting only CA),
//                                                 signed by stripe-node now; prints the
//                                                 status and body, or the TLS error
const http = require('http');
const https = require('https');
const Stripe = require('stripe');

async function client(port, key) {
  const stripe = new Stripe(key, { host: '127.0.0.1', port: Number(port), protocol: 'http', maxNetworkRetries: 0,
                                   telemetry: false });
  const balance = await stripe.balance.retrieve();
  const params = { amount: 5000, currency: 'usd', description: 'stripe-node' };
  const first = await stripe.topups.create(params, { idempotencyKey: 'stripe-node-key-1' });
  const second = await stripe.topups.create(params, { idempotencyKey: 'stripe-node-key-1' });
  let mismatch = null;
  try {
    await stripe.topups.create({ ...params, amount: 5001 }, { idempotencyKey: 'stripe-node-key-1' });
  } catch (e) {
    mismatch = e.type;
  }
  let unauthorized = null;
  try {
    await new Stripe('sk_test_wrong', { host: '127.0.0.1', port: Number(port), protocol: 'http', maxNetworkRetries: 0,
                                        telemetry: false }).balance.retrieve();
  } catch (e) {
    unauthorized = e.type;
  }
  const fetched = await stripe.topups.retrieve(first.id);
  console.log(JSON.stringify({
    available: balance.available[0].amount, currency: balance.available[0].currency,
    first: first.id, second: second.id, replayed: second.lastResponse.headers['idempotent-replayed'] || null,
    mismatch, unauthorized, status: fetched.status, amount: fetched.amount,
  }));
}

function receive(secret) {
  const stripe = new Stripe('sk_test_unused');
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      try {
        const event = stripe.webhooks.constructEvent(body, req.headers['stripe-signature'], secret);
        console.log(JSON.stringify({ verified: true, id: event.id, type: event.type, topup: event.data.object.id,
                                     status: event.data.object.status }));
        res.writeHead(200);
      } catch (e) {
        console.log(JSON.stringify({ verified: false, error: e.message }));
        res.writeHead(400);
      }
      res.end();
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(`receiver listening on ${server.address().port}`));
}

function sign(file, secret, timestamp) {
  const payload = require('fs').readFileSync(file, 'utf8');
  const stripe = new Stripe('sk_test_unused');
  console.log(stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: Number(timestamp) }));
}

function post(url, file, secret, ca) {
  const payload = require('fs').readFileSync(file, 'utf8');
  const stripe = new Stripe('sk_test_unused');
  const signature = stripe.webhooks.generateTestHeaderString({ payload, secret });
  const request = https.request(url, {
    method: 'POST', ca: require('fs').readFileSync(ca),
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature },
  }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body: Buffer.concat(chunks).toString() })));
  });
  request.on('error', (e) => console.log(JSON.stringify({ status: 0, error: e.code || e.message })));
  request.end(payload);
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'client') client(...args).catch((e) => { console.error(e); process.exit(1); });
else if (mode === 'receive') receive(...args);
else if (mode === 'sign') sign(...args);
else if (mode === 'post') post(...args);
else { console.error('usage: stripe_peer.js client PORT KEY | receive SECRET | sign FILE SECRET UNIX | post URL FILE SECRET CA'); process.exit(2); }
