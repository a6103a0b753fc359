// Micro-benchmark of the in-process verification path alone: cookie → principal → internal token,
// with the session and token caches hit, and missed (memory store lookup + an ES256 signature).
// Bearer verification joins when bearer tokens land.
import { exportJWK, generateKeyPair } from 'jose';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { DEFAULT_IDENTITY_HEADERS } from '../src/config/header-names.js';
import { buildHeaderPolicy, filterRequestHeaders } from '../src/forward/headers.js';
import { checkHeaders } from '../src/http/request-shape.js';
import { loadKeySet } from '../src/keys/keyset.js';
import { RouteTable } from '../src/routing/table.js';
import { TokenMinter, mintScope } from '../src/pipeline/mint/minter.js';
import type { Principal } from '../src/pipeline/principal.js';
import { MemoryBus } from '../src/adapters/memory/bus.js';
import { MemorySessionStore } from '../src/adapters/memory/session-store.js';
import { SessionService } from '../src/sessions/service.js';
import { runStages } from '../src/http/resolve.js';
import { authenticateStage } from '../src/pipeline/authn/authenticator.js';
import { sessionCookieAuthenticator } from '../src/pipeline/authn/session-cookie.js';
import { mintStage } from '../src/pipeline/mint/stage.js';
import type { CompiledRoute, Exchange } from '../src/pipeline/exchange.js';

export interface MicroResult {
  readonly name: string;
  readonly nsPerOp: number;
  readonly ops: number;
}

const clock = { now: () => Date.now() };
const noop = () => undefined;
const observer = { cache: noop, storeCall: noop, created: noop, revoked: noop, unreadable: noop };

async function time(name: string, ops: number, fn: (i: number) => Promise<unknown>): Promise<MicroResult> {
  for (let i = 0; i < Math.min(1000, ops); i++) await fn(i); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) await fn(i);
  return { name, ops, nsPerOp: Number(process.hrtime.bigint() - start) / ops };
}

export async function runMicro(): Promise<MicroResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'gw-micro-'));
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  await writeFile(join(dir, 'k.private.jwk.json'), JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'k', alg: 'ES256' }));
  const keys = await loadKeySet({ dir, algorithm: 'ES256', generateDevKey: false, warn: noop });
  const settings = { idleTimeoutMs: 3_600_000, absoluteTimeoutMs: 7_200_000, touchIntervalMs: 3_600_000, cacheMaxEntries: 10_000 };

  const store = new MemorySessionStore(clock);
  const cached = new SessionService(store, new MemoryBus(), clock, { ...settings, cacheTtlMs: 3_600_000 }, observer);
  const uncached = new SessionService(store, new MemoryBus(), clock, { ...settings, cacheTtlMs: 0 }, observer);
  const { id } = await cached.create({ sub: 'u', claims: { email: 'u@example.com', roles: ['user'] }, clientIp: '127.0.0.1', userAgent: 'bench' });
  const minter = new TokenMinter(keys, 'https://gateway.internal', 60_000, clock, noop);
  const scope = mintScope('orders', ['email', 'roles']);

  const principalOf = async (svc: SessionService): Promise<Principal> => {
    const r = await svc.resolve(id);
    if (r.kind !== 'active') throw new Error('session not found');
    return { sub: r.session.sub, claims: r.session.claims, via: 'session', sessionHandle: r.session.handle, session: r.session };
  };

  return [
    await time('cookie → principal → token (session cache hit, token reused)', 200_000, async () => minter.token(await principalOf(cached), scope)),
    await time('cookie → principal (session cache miss: memory store lookup)', 200_000, async () => principalOf(uncached)),
    await time('token signed (token cache miss: ES256 signature)', 5_000, async (i) => minter.token(await principalOf(cached), mintScope(`aud-${i}`, ['email']))),
    await time('malformed cookie refused (no store call)', 200_000, async () => cached.resolve('not-a-session')),
    await stagesOfSessionRoute(cached, minter, id),
    ...(await edgeChecks()),
  ];
}

/**
 * A session route's stages as the handler runs them (authenticate, an empty policy, mint), session
 * and token caches hit, 50 requests in flight at a time as on a busy listener: what the request pays
 * for its stages, awaits included (synchronous on a hit since the stages may return no promise).
 */
async function stagesOfSessionRoute(sessions: SessionService, minter: TokenMinter, id: string): Promise<MicroResult> {
  const authn = authenticateStage([sessionCookieAuthenticator(sessions, 'gw', { secure: false, sameSite: 'lax', path: '/' })], {
    routeName: 'r',
    loginRedirect: undefined,
    challenge: 'Cookie',
    outcomes: { outcome: noop },
  });
  const route = { stages: [authn, noop, mintStage(minter, 'orders', 'authorization', ['email', 'roles'])] } as unknown as CompiledRoute;
  const req = { headers: { cookie: `gw=${id}` }, method: 'GET' };
  const one = async (): Promise<void> => {
    const ex = { req, principal: undefined, upstreamHeaders: [] } as unknown as Exchange;
    const pending = runStages(route, ex);
    if (pending) await pending;
  };
  const batch = () => Promise.all(Array.from({ length: 50 }, one));
  return time("a session route's stages, caches hit (50 in flight)", 4_000, batch).then((r) => ({ ...r, nsPerOp: r.nsPerOp / 50, ops: r.ops * 50 }));
}

/** The per-request checks of the legacy-backend rules: route match with and without the lenient reading, header shape and filter. */
async function edgeChecks(): Promise<MicroResult[]> {
  const prefixes = ['/', '/app', '/api', '/api/orders', '/api/users', '/admin', '/static', '/pub', '/reports', '/hooks'];
  const table = new RouteTable(prefixes.map((prefix) => ({ prefix, host: undefined, methods: null, caseInsensitive: false })), { refuseAmbiguous: true });
  const rawHeaders = [
    'Host', 'gateway.example', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'Accept', 'text/html,application/xhtml+xml',
    'Accept-Language', 'en-GB,en;q=0.9', 'Accept-Encoding', 'gzip, deflate, br', 'Cookie', 'gw-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; theme=dark',
    'Connection', 'keep-alive', 'Sec-Fetch-Site', 'same-origin', 'Sec-Fetch-Mode', 'navigate', 'Referer', 'https://gateway.example/app/home',
  ];
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[(rawHeaders[i] as string).toLowerCase()] = rawHeaders[i + 1] as string;
  const req = { rawHeaders, headers } as unknown as IncomingMessage;
  const policy = buildHeaderPolicy({ drop: [...DEFAULT_IDENTITY_HEADERS, 'authorization'], keepUnderscores: false, keepFromTrusted: [] });
  const limits = { maxHeaderCount: 100, ownedCookies: ['gw-session', '__Secure-refresh'] };
  return [
    await time('route match, lower-case path (no lenient reading)', 1_000_000, async () => table.match('gateway.example', '/api/orders/12345/items', 'GET')),
    await time('route match, camelCase path (lenient reading checked)', 1_000_000, async () => table.match('gateway.example', '/api/orders/12345/lineItems', 'GET')),
    await time('header shape checks + header filter (11 browser headers)', 1_000_000, async () => {
      checkHeaders(req, limits);
      filterRequestHeaders(req, policy, [], limits.ownedCookies, false);
    }),
  ];
}
