// A forward proxy that only does CONNECT, for the client's proxy test. Prints its
// port, then one line per tunnel it opens.
const http = require('http');
const net = require('net');

const server = http.createServer((req, res) => {
  res.writeHead(405);
  res.end();
});
server.on('connect', (req, client, head) => {
  const [host, port] = req.url.split(':');
  console.log(`CONNECT ${req.url} auth=${req.headers['proxy-authorization'] || '-'}`);
  const upstream = net.connect(Number(port), host, () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
});
server.listen(0, '127.0.0.1', () => console.log(`proxy listening on ${server.address().port}`));
