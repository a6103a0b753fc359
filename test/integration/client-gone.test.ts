// A client that leaves while its request waits on a stage (here the session lookup, held up by a
// paused Redis) is gone by the time the stage answers: the request is not sent upstream for nobody
// (a POST would otherwise still be carried out). Found by review: the forwarder sent it anyway.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COOKIE, startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  // The session cache off: every request reads Redis; a generous command timeout so the read
  // outlives the client.
  env = await startSessionEnv({ gateway: { redis: { commandTimeout: '3s' }, session: { cacheTtl: 0 } } });
}, 30_000);
afterAll(async () => {
  await env.close();
});

describe('a client that leaves while a stage waits', () => {
  it('is not forwarded once the stage answers', async () => {
    const cookie = await env.login('alice');
    const before = env.up.received.length;
    env.redis.pause();
    try {
      const sock = connect(Number(new URL(env.gw.url).port), '127.0.0.1');
      await new Promise<void>((resolve) => sock.on('connect', resolve));
      sock.write(`POST /app/order HTTP/1.1\r\nHost: x\r\nOrigin: ${env.origin}\r\nCookie: ${COOKIE}=${cookie}\r\nContent-Length: 0\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 200));
      sock.destroy();
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      env.redis.resume();
    }
    // The lookup now answers (the session is live); the same session still works for a client that stays.
    expect((await env.get('/app/after', cookie)).status).toBe(200);
    const paths = env.up.received.slice(before).map((r) => r.url);
    expect(paths).toEqual(['/app/after']);
  }, 30_000);
});
