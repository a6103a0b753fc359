// Real upstream servers on port 0 that record what they receive.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  bodyBytes: number;
  /** Whether the request body ended cleanly. */
  completed: boolean;
}

export interface Upstream {
  url: string;
  port: number;
  server: Server;
  received: Received[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, rec: Received) => void;

/** Default behaviour: consume the body, answer 200 with JSON of what was received. */
export const echo: UpstreamHandler = (req, res, rec) => {
  req.on('end', () => {
    const body = JSON.stringify({ method: rec.method, url: rec.url, headers: rec.headers, bodyBytes: rec.bodyBytes });
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
    res.end(body);
  });
};

export async function startUpstream(handler: UpstreamHandler = echo): Promise<Upstream> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const rec: Received = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyBytes: 0,
      completed: false,
    };
    received.push(rec);
    req.on('data', (c: Buffer) => (rec.bodyBytes += c.length));
    req.on('end', () => (rec.completed = true));
    handler(req, res, rec);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
