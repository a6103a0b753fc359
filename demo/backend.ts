// The bundled demo backend: a stand-in for the legacy service behind the gateway.
// - POST /internal/verify-credentials: the credential check the gateway calls at sign-in
//   (demo users alice / alice-password and admin / admin-password);
// - anything else: answers with what it received, and verifies the gateway's internal token through
//   the gateway's JWKS (jose createRemoteJWKSet), so the quick start shows the whole path.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';

const USERS: Record<string, { password: string; sub: string; claims: Record<string, unknown> }> = {
  alice: { password: 'alice-password', sub: 'user-alice', claims: { email: 'alice@example.com', name: 'Alice', roles: ['user'] } },
  admin: { password: 'admin-password', sub: 'user-admin', claims: { email: 'admin@example.com', name: 'Admin', roles: ['admin', 'user'] } },
};

export interface DemoOptions {
  /** The gateway's JWKS; without it tokens are shown but not verified. */
  readonly jwksUrl?: string;
  readonly issuer?: string;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

export function createDemoBackend(opts: DemoOptions = {}): Server {
  const jwks: JWTVerifyGetKey | undefined = opts.jwksUrl ? createRemoteJWKSet(new URL(opts.jwksUrl)) : undefined;
  return createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://demo.invalid');
      if (req.method === 'POST' && url.pathname === '/internal/verify-credentials') {
        let creds: { username?: string; password?: string } = {};
        try {
          creds = JSON.parse(body) as typeof creds;
        } catch {
          // answered 401 below
        }
        const user = creds.username ? USERS[creds.username] : undefined;
        if (!user || user.password !== creds.password) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end('{"error":"invalid"}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sub: user.sub, claims: user.claims }));
        return;
      }
      const auth = req.headers.authorization;
      let token: unknown;
      if (auth?.startsWith('Bearer ') && jwks) {
        try {
          const { payload, protectedHeader } = await jwtVerify(auth.slice(7), jwks, { issuer: opts.issuer });
          token = { verified: true, header: protectedHeader, claims: payload };
        } catch (err) {
          token = { verified: false, error: (err as Error).message };
        }
      }
      const text = JSON.stringify(
        {
          service: 'demo-backend',
          token,
          received: {
            method: req.method,
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            headers: req.headers,
            bodyBytes: Buffer.byteLength(body),
          },
        },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    })();
  });
}

export function startDemoBackend(port: number, host = '127.0.0.1', opts: DemoOptions = {}): Promise<{ server: Server; url: string }> {
  const server = createDemoBackend(opts);
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
  const { server, url } = await startDemoBackend(port, host, {
    jwksUrl: process.env.JWKS_URL ?? 'http://127.0.0.1:9090/.well-known/jwks.json',
    issuer: process.env.TOKEN_ISSUER ?? 'https://gateway.internal',
  });
  console.log(JSON.stringify({ msg: 'demo backend listening', url }));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
  process.once('SIGINT', () => server.close(() => process.exit(0)));
}
