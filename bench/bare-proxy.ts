// The Node ceiling for proxying: node:http in front, an undici Pool.stream behind, keep-alive both
// ways, hop-by-hop headers dropped, nothing else. What the gateway's public route is compared with.
// EXTRA_HEADER_NAME and EXTRA_HEADER_VALUE: one more header on every upstream request (the "bare
// proxy that also forwards a token-sized header" row: the gateway's internal JWT, byte for byte).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
const EXTRA_NAME = process.env.EXTRA_HEADER_NAME?.toLowerCase();
const EXTRA_VALUE = process.env.EXTRA_HEADER_VALUE ?? '';
const pool = new Pool(process.env.ORIGIN as string, { connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });

function headersOf(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) if (!HOP.has(k) && h[k] !== undefined) out[k] = h[k] as string | string[];
  return out;
}

function factory({ statusCode, headers, opaque }: Dispatcher.StreamFactoryData<ServerResponse>) {
  const res = opaque;
  res.writeHead(statusCode, headersOf(headers as IncomingHttpHeaders));
  return res;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const headers = headersOf(req.headers);
  if (EXTRA_NAME) headers[EXTRA_NAME] = EXTRA_VALUE;
  pool
    .stream<ServerResponse>(
      {
        path: req.url ?? '/',
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: req.headers['content-length'] || req.headers['transfer-encoding'] ? req : null,
        opaque: res,
      },
      factory,
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
}

// TLS_CERT and TLS_KEY: the same proxy behind HTTPS (the TLS rows compare the gateway's listen.tls with it).
const tls = process.env.TLS_CERT && process.env.TLS_KEY ? { cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) } : undefined;
const server = tls ? createHttpsServer({ ...tls, ALPNProtocols: ['http/1.1'] }, handle) : createServer(handle);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  process.stdout.write(JSON.stringify({ msg: 'listening', port, url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}` }) + '\n');
});
