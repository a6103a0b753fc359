// Idle and absolute expiry, the touch interval, and the Redis TTL, against a real redis-server.
// The gateway decides expiry by its clock, here a fake one the tests move; the lifetimes are long
// (minutes) so that no key expires in real time during a test, and the TTLs Redis was given are
// read with PTTL: Redis drops a session no later than the gateway stops accepting it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSessionId } from '../../src/sessions/ids.js';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

const MIN = 60_000;
const IDLE = 20 * MIN;
const ABSOLUTE = 60 * MIN;
const TOUCH = MIN;

let now = Date.now();
let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({
    clock: { now: () => now },
    gateway: { session: { idleTimeout: '20m', absoluteTimeout: '1h', touchInterval: '1m', cacheTtl: '0' } },
  });
});
afterAll(async () => env.close());

async function setCalls(): Promise<number> {
  const c = env.redis.client();
  const info = await c.info('commandstats');
  c.disconnect();
  return Number(/cmdstat_set:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

/** The session's TTL in Redis, in ms. */
async function pttl(id: string): Promise<number> {
  const c = env.redis.client();
  const ttl = await c.pttl(`gw:s:${hashSessionId(id)}`);
  c.disconnect();
  return ttl;
}

/** The session's record in Redis. */
async function stored(id: string): Promise<{ lastSeenAt: number }> {
  const c = env.redis.client();
  const raw = await c.get(`gw:s:${hashSessionId(id)}`);
  c.disconnect();
  return JSON.parse(raw ?? 'null') as { lastSeenAt: number };
}

describe('session lifetime', () => {
  it('ends an idle session after idleTimeout, counted from its last use', async () => {
    const id = await env.login('alice');
    expect(await pttl(id)).toBeLessThanOrEqual(IDLE);
    expect(await pttl(id)).toBeGreaterThan(IDLE - 5_000);
    expect((await env.get('/app/x', id)).status).toBe(200);
    now += IDLE - 1;
    expect((await env.get('/app/x', id)).status).toBe(200);
    // That use moved the idle end: the record was rewritten with a full idle TTL.
    expect((await stored(id)).lastSeenAt).toBe(now);
    expect(await pttl(id)).toBeLessThanOrEqual(IDLE);
    expect(await pttl(id)).toBeGreaterThan(IDLE - 5_000);
    now += IDLE;
    const res = await env.get('/app/x', id);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'session_invalid' });
  });

  it('slides while used, but never past absoluteTimeout; the Redis TTL never outlives it', async () => {
    const started = now;
    const id = await env.login('alice');
    let maxTtlOverrun = -Infinity;
    let lastTtl = 0;
    // Used every 15 minutes: three times the idle timeout in all, the session lives on.
    while (now + 15 * MIN < started + ABSOLUTE) {
      now += 15 * MIN;
      expect((await env.get('/app/x', id)).status).toBe(200);
      lastTtl = await pttl(id);
      maxTtlOverrun = Math.max(maxTtlOverrun, now + lastTtl - (started + ABSOLUTE));
    }
    expect(now - started).toBe(45 * MIN);
    expect(maxTtlOverrun).toBeLessThanOrEqual(0);
    // The last touch, 15 minutes before the absolute end, set that much and not the idle timeout.
    expect(lastTtl).toBeLessThanOrEqual(15 * MIN);
    expect(lastTtl).toBeGreaterThan(15 * MIN - 5_000);
    // Used 15 minutes ago, well within the idle timeout, but at its absolute end.
    now = started + ABSOLUTE;
    expect((await env.get('/app/x', id)).status).toBe(401);
  });

  it('pushes the TTL forward at most once per touch interval, not on every request', async () => {
    const id = await env.login('alice');
    const fresh = await setCalls();
    for (let i = 0; i < 20; i++) expect((await env.get('/app/x', id)).status).toBe(200);
    expect((await setCalls()) - fresh).toBe(0);
    now += TOUCH;
    const before = await setCalls();
    for (let i = 0; i < 20; i++) expect((await env.get('/app/x', id)).status).toBe(200);
    expect((await setCalls()) - before).toBe(1);
    now += TOUCH - 1;
    for (let i = 0; i < 20; i++) expect((await env.get('/app/x', id)).status).toBe(200);
    expect((await setCalls()) - before).toBe(1);
    now += 1;
    for (let i = 0; i < 20; i++) expect((await env.get('/app/x', id)).status).toBe(200);
    expect((await setCalls()) - before).toBe(2);
  });
});
