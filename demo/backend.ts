// The bundled demo backend: a stand-in for the legacy service behind the gateway. It answers every
// request with what it received (method, path, query, headers), so the quick start shows exactly
// what the gateway forwards and what it strips.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export function createDemoBackend(): Server {
  return createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://demo.invalid');
      const body = JSON.stringify(
        {
          service: 'demo-backend',
          received: {
            method: req.method,
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            headers: req.headers,
            bodyBytes: bytes,
          },
        },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
}

export function startDemoBackend(port: number, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  const server = createDemoBackend();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({ server, url: `http://${a.address}:${a.port}` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 9001);
  const host = process.env.HOST ?? '127.0.0.1';
  const { server, url } = await startDemoBackend(port, host);
  console.log(JSON.stringify({ msg: 'demo backend listening', url }));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
  process.once('SIGINT', () => server.close(() => process.exit(0)));
}
