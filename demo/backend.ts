// The bundled demo backend: a stand-in for the legacy service behind the gateway. Two listeners:
// - the application (PORT, default 9001), which the routes point at: it answers with what it
//   received and verifies the gateway's internal token as an upstream should: signature through the
//   gateway's JWKS (jose createRemoteJWKSet), issuer, audience (one of the routes' audiences) and
//   `typ` (gateway-internal+jwt, so a user's own access token is never taken for one);
// - the credential check (VERIFY_PORT, default 9002), POST /internal/verify-credentials, which only
//   the gateway calls at sign-in (demo users alice / alice-password and admin / admin-password).
//   It has its own listener so that no route reaches it: through a route it would be a password
//   oracle without the sign-in's rate limits.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';

const USERS: Record<string, { password: string; sub: string; claims: Record<string, unknown> }> = {
  alice: { password: 'alice-password', sub: 'user-alice', claims: { email: 'alice@example.com', name: 'Alice', roles: ['user'] } },
  admin: { password: 'admin-password', sub: 'user-admin', claims: { email: 'admin@example.com', name: 'Admin', roles: ['admin', 'user'] } },
};

/** `typ` of the gateway's internal tokens (src/pipeline/mint/minter.ts). */
const INTERNAL_TOKEN_TYPE = 'gateway-internal+jwt';

/** The audiences of the shipped config/routes.yaml routes that point at the demo backend. */
export const DEMO_AUDIENCES = ['demo', 'demo-admin', 'demo-api'];

export interface DemoOptions {
  /** The gateway's JWKS; without it tokens are shown but not verified. */
  readonly jwksUrl?: string;
  readonly issuer?: string;
  /** Accepted `aud` values (default DEMO_AUDIENCES). */
  readonly audiences?: readonly string[];
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

export function createDemoBackend(opts: DemoOptions = {}): Server {
  const jwks: JWTVerifyGetKey | undefined = opts.jwksUrl ? createRemoteJWKSet(new URL(opts.jwksUrl)) : undefined;
  const audience = [...(opts.audiences ?? DEMO_AUDIENCES)];
  return createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://demo.invalid');
      const auth = req.headers.authorization;
      let token: unknown;
      if (auth?.startsWith('Bearer ') && jwks) {
        try {
          const { payload, protectedHeader } = await jwtVerify(auth.slice(7), jwks, { issuer: opts.issuer, audience, typ: INTERNAL_TOKEN_TYPE });
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

/** The credential check the gateway calls at sign-in (login.verifyUrl): 200 {"sub","claims"} or 401. */
export function createCredentialCheck(): Server {
  return createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (req.method !== 'POST' || req.url !== '/internal/verify-credentials') {
        res.writeHead(404).end();
        return;
      }
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
    })();
  });
}

export function listenOn(server: Server, port: number, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      resolve({ server, url: `http://${a.address}:${a.port}` });
    });
  });
}

export function startDemoBackend(port: number, host = '127.0.0.1', opts: DemoOptions = {}): Promise<{ server: Server; url: string }> {
  return listenOn(createDemoBackend(opts), port, host);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const host = process.env.HOST ?? '127.0.0.1';
  const { server, url } = await startDemoBackend(Number(process.env.PORT ?? 9001), host, {
    jwksUrl: process.env.JWKS_URL ?? 'http://127.0.0.1:9090/.well-known/jwks.json',
    issuer: process.env.TOKEN_ISSUER ?? 'https://gateway.internal',
  });
  const verify = await listenOn(createCredentialCheck(), Number(process.env.VERIFY_PORT ?? 9002), host);
  console.log(JSON.stringify({ msg: 'demo backend listening', url, credentialCheck: `${verify.url}/internal/verify-credentials` }));
  const stop = () => verify.server.close(() => server.close(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
