// Micro-benchmark of the in-process verification path alone: cookie → principal → internal token,
// with the session and token caches hit, and missed (memory store lookup + an ES256 signature).
// Bearer verification joins when bearer tokens land.
import { exportJWK, generateKeyPair } from 'jose';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKeySet } from '../src/keys/keyset.js';
import { TokenMinter, mintScope } from '../src/pipeline/mint/minter.js';
import type { Principal } from '../src/pipeline/principal.js';
import { MemoryBus, MemorySessionStore } from '../src/sessions/memory-store.js';
import { SessionService } from '../src/sessions/service.js';

export interface MicroResult {
  readonly name: string;
  readonly nsPerOp: number;
  readonly ops: number;
}

const clock = { now: () => Date.now() };
const noop = () => undefined;
const observer = { cache: noop, storeCall: noop, created: noop, revoked: noop };

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
  ];
}
