// A real WebSocket echo upstream on port 0 that records the upgrade requests it accepted.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface WsUpstream {
  url: string;
  upgrades: IncomingMessage[];
  /** How many accepted sockets have closed on the upstream's side. */
  readonly closed: number;
  close(): Promise<void>;
}

export async function startWsUpstream(): Promise<WsUpstream> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  const upgrades: IncomingMessage[] = [];
  // An upstream that tries to set the gateway's session cookie in its 101 answer.
  wss.on('headers', (headers) => headers.push('Set-Cookie: gw-session=from-upstream; Path=/', 'Set-Cookie: app=1; Path=/'));
  let closed = 0;
  wss.on('connection', (socket, req) => {
    upgrades.push(req);
    socket.on('close', () => closed++);
    socket.on('message', (data) => socket.send(`echo:${String(data)}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    upgrades,
    get closed() {
      return closed;
    },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
