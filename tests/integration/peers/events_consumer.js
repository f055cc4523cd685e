// A company backend receiving topupd's events, verified with the standardwebhooks npm
// package (the Standard Webhooks reference library), as any consumer would.
//   node events_consumer.js SECRET FAIL_FIRST
// prints "consumer listening on PORT", then one JSON line per delivery:
//   {"id", "type", "verified", "tampered_refused", "status", "body"}
// It answers 500 to the first FAIL_FIRST deliveries (to see them come again under the
// same id), 200 to the others it can verify, 400 to those it cannot.
const http = require('http');
const { Webhook } = require('standardwebhooks');

const [secret, failFirst] = process.argv.slice(2);
const webhook = new Webhook(secret);
let failures = Number(failFirst || 0);

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': req.headers['webhook-id'],
      'webhook-timestamp': req.headers['webhook-timestamp'],
      'webhook-signature': req.headers['webhook-signature'],
    };
    let verified = false;
    let event = null;
    try {
      event = webhook.verify(body, headers);
      verified = true;
    } catch (e) {
      verified = false;
    }
    // The same delivery with one byte changed must not verify.
    let tamperedRefused = false;
    try {
      webhook.verify(body.replace('"type":"', '"type":"x'), headers);
    } catch (e) {
      tamperedRefused = true;
    }
    let status = verified ? 200 : 400;
    if (verified && failures > 0) {
      failures -= 1;
      status = 500;
    }
    console.log(JSON.stringify({ id: headers['webhook-id'], type: event ? event.type : null, verified,
                                 tampered_refused: tamperedRefused, status, body: event }));
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(status === 200 ? '{"ok":true}' : '{"ok":false}');
  });
});
server.listen(0, '127.0.0.1', () => console.log(`consumer listening on ${server.address().port}`));
