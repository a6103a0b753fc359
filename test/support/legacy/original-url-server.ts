// A legacy upstream that routes on `X-Original-URL` / `X-Rewrite-URL` when present, as IIS URL
// Rewrite and Symfony's Request (behind a trusted proxy) do. A gateway that authorises the request
// line and forwards these headers lets `GET /public` + `X-Original-URL: /admin` into the admin area;
// this server makes that observable. Every request it received is recorded.
import { createServer, type IncomingMessage } from 'node:http';
import { listenLocal } from './listen.js';

export interface OriginalUrlReceived {
  method: string;
  /** The request-line target. */
  url: string;
  /** The path the server acted on: from X-Original-URL, else X-Rewrite-URL, else the request line. */
  effectivePath: string;
  headers: IncomingMessage['headers'];
  handler: 'admin' | 'other';
}

export interface OriginalUrlUpstream {
  url: string;
  received: OriginalUrlReceived[];
  close(): Promise<void>;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export async function startOriginalUrlUpstream(): Promise<OriginalUrlUpstream> {
  const received: OriginalUrlReceived[] = [];
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    // Symfony's order: X-Original-URL first, then X-Rewrite-URL. Either may carry a query; drop it.
    const target = first(req.headers['x-original-url']) || first(req.headers['x-rewrite-url']) || url;
    const q = target.indexOf('?');
    const effectivePath = q === -1 ? target : target.slice(0, q);
    const handler = effectivePath.startsWith('/admin') ? 'admin' : 'other';
    received.push({ method: req.method ?? '', url, effectivePath, headers: req.headers, handler });
    // Consume the body before answering so keep-alive connections stay usable.
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(handler === 'admin' ? 'admin area' : 'ok');
    });
  });
  const { url, close } = await listenLocal(server);
  return { url, received, close };
}
