// Sign-in rate limits hold under concurrency: the attempt is counted in Redis before the credential
// check, so thirty concurrent guesses against a limit of five reach the credential service five
// times. IPv6 clients are counted by their /64; successful sign-ins do not use up an address's budget.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressKey } from '../../src/endpoints/auth/address-key.js';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({
    gateway: {
      trustedProxies: ['127.0.0.1/32', '::1/128'],
      login: { rateLimit: { perAddress: { max: 3, window: '1m' }, perUsername: { max: 5, window: '1m' } } },
    },
  });
});
afterAll(async () => env.close());

const signIn = (username: string, password: string, from: string) =>
  env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: env.origin, 'x-forwarded-for': from }, JSON.stringify({ username, password }));

async function flush(): Promise<void> {
  const c = env.redis.client();
  for (const k of await c.keys('gw:rl:*')) await c.del(k);
  c.disconnect();
}

describe('sign-in rate limits', () => {
  it('let at most perUsername.max of thirty concurrent wrong passwords reach the credential check', async () => {
    await flush();
    const checks = env.verifier.received.length;
    // Thirty addresses, so only the username limit applies.
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => signIn('root', `guess-${i}`, `198.51.100.${i + 1}`)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25);
    expect(env.verifier.received.length - checks).toBe(5);
  });

  it('count the spellings of a username a lenient credential check takes as one (case, width, accents, zero-width) against one budget', async () => {
    await flush();
    const spellings = ['root', 'ROOT', ' Root ', 'ro\u200bot', 'ｒｏｏｔ', 'röot'];
    const statuses: number[] = [];
    for (const [i, name] of spellings.entries()) statuses.push((await signIn(name, 'wrong', `198.51.100.${100 + i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('count IPv6 clients by their /64', async () => {
    await flush();
    for (const host of ['1', '2', '3']) expect((await signIn(`user${host}`, 'wrong', `2001:db8:0:7::${host}`)).status).toBe(401);
    const limited = await signIn('user4', 'wrong', '2001:db8:0:7:ffff:ffff:ffff:fffe');
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body)).toMatchObject({ error: 'rate_limited' });
    // The next /64 is another client.
    expect((await signIn('user5', 'wrong', '2001:db8:0:8::1')).status).toBe(401);
  });

  it('do not spend an address\'s budget on successful sign-ins (many people behind one NAT)', async () => {
    await flush();
    for (let i = 0; i < 6; i++) expect((await signIn('alice', 'pw-alice', '203.0.113.50')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await signIn('root', 'wrong', '203.0.113.50')).status).toBe(401);
    expect((await signIn('alice', 'pw-alice', '203.0.113.50')).status).toBe(429);
  });
});

describe('addressKey', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:DB8:0000:0000:abcd::1', '2001:db8:0:0::/64'],
    ['2001:db8:0:1:2:3:4:5', '2001:db8:0:1::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.7', '64:ff9b:0:0::/64'],
  ])('%s → %s', (ip, key) => expect(addressKey(ip)).toBe(key));
});
