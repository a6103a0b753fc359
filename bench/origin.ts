// The benchmark origin: a bare node:http server answering a small JSON body, or 64 KB at /big, and
// the credential check the gateway calls at sign-in. Runs as its own process. .../echo-headers
// answers the request headers it got (the benchmark reads the gateway's forwarded token there);
// with WS_ECHO=1 it also accepts WebSockets and echoes each message (the soak's upstream).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const SMALL = Buffer.from(JSON.stringify({ ok: true, service: 'origin', note: 'a small answer of about one hundred bytes' }));
const BIG = Buffer.alloc(64 * 1024, 'x');

// The external issuer's JWKS (the benchmark signs its tokens with the matching private key).
const JWKS = Buffer.from(process.env.JWKS_JSON ?? '{"keys":[]}');

const server = createServer((req, res) => {
  if (req.url === '/jwks') {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600', 'content-length': JWKS.length });
    res.end(JWKS);
    return;
  }
  if (req.method === 'POST' && req.url === '/verify') {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sub: 'bench-user', claims: { email: 'bench@example.com', roles: ['user'] } }));
    });
    return;
  }
  req.resume();
  if (req.url?.endsWith('/echo-headers')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.headers));
    return;
  }
  const body = req.url?.endsWith('/big') ? BIG : SMALL;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
if (process.env.WS_ECHO === '1') {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) => socket.on('message', (data, binary) => socket.send(data, { binary })));
}
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port }) + '\n');
});
