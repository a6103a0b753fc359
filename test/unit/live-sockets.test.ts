// LiveSockets on an injected clock, a scripted store and a bus that can be down: every deadline and
// every way a revocation can be missed is forced here; websocket-lifetime.test.ts shows the same
// through real gateways, sockets and Redis.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { closeFrame, LiveSockets, type SocketSession } from '../../src/forward/live-sockets.js';

type Event = { type: 'session'; idHash: string; reason?: string } | { type: 'user'; sub: string; reason?: string };

function setup(opts: { framesAreActivity?: boolean } = {}) {
  let now = 1_000_000;
  const clock = { now: () => now };
  const stored = new Map<string, SocketSession>();
  const calls: string[] = [];
  const bus = {
    connected: true,
    onEvent: (_e: Event) => undefined as void,
    onGap: () => undefined as void,
    subscribe(onEvent: (e: Event) => void, onGap: () => void) {
      this.onEvent = onEvent;
      this.onGap = onGap;
    },
  };
  const sessions = {
    async current(idHash: string) {
      calls.push(`current ${idHash}`);
      const s = stored.get(idHash);
      return s && now < s.expiresAt && now - s.lastSeenAt < 10_000 ? s : undefined;
    },
    async keepAlive(idHash: string) {
      calls.push(`keepAlive ${idHash}`);
      const s = await this.current(idHash);
      if (!s) return undefined;
      const next = { ...s, lastSeenAt: now };
      stored.set(idHash, next);
      return next;
    },
  };
  const closed: string[] = [];
  const live = new LiveSockets(sessions, bus, clock, { idleTimeoutMs: 10_000, touchIntervalMs: 2_000, framesAreActivity: opts.framesAreActivity ?? true, sweepMs: 60_000 }, {
    opened: () => undefined,
    closed: (route, reason) => closed.push(`${route}:${reason}`),
    checkFailed: () => closed.push('check-failed'),
  });
  const open = (idHash: string | undefined, sub: string | undefined, expiresAt = now + 100_000) => {
    const client = new PassThrough();
    const upstream = new PassThrough();
    const written: Buffer[] = [];
    client.on('data', (c: Buffer) => written.push(c));
    const session = idHash ? { idHash, lastSeenAt: now, expiresAt } : undefined;
    if (session) stored.set(idHash as string, session);
    live.track({ route: 'r', sub, session, expiresAt, client })?.attach(upstream);
    return { client, upstream, written };
  };
  return { live, bus, stored, calls, closed, open, advance: (ms: number) => (now += ms), get now() { return now; } };
}

describe('LiveSockets', () => {
  it('closes a session\'s sockets on its invalidation event with a 1008 frame, and the upstream side', () => {
    const t = setup();
    const one = t.open('h1', 'alice');
    const other = t.open('h2', 'alice');
    t.bus.onEvent({ type: 'session', idHash: 'h1', reason: 'logout' });
    expect(t.closed).toEqual(['r:logout']);
    expect(Buffer.concat(one.written)).toEqual(closeFrame(1008, 'logout'));
    expect(one.upstream.destroyed).toBe(true);
    expect(other.upstream.destroyed).toBe(false);
    expect(t.live.size).toBe(1);
  });

  it('closes every socket of a user on a user event, bearer and session alike; never another user\'s', () => {
    const t = setup();
    t.open('h1', 'alice');
    t.open(undefined, 'alice');
    const bob = t.open('h3', 'bob');
    t.bus.onEvent({ type: 'user', sub: 'alice', reason: 'forged-reason-from-redis' });
    expect(t.closed).toEqual(['r:user_revoked', 'r:user_revoked']);
    expect(bob.upstream.destroyed).toBe(false);
  });

  it('closes at the absolute deadline without asking the store', async () => {
    const t = setup();
    t.open('h1', 'alice', t.now + 5_000);
    t.open(undefined, 'bob', t.now + 3_000);
    t.advance(3_000);
    await t.live.sweep();
    expect(t.closed).toEqual(['r:token_expired']);
    t.advance(2_000);
    await t.live.sweep();
    expect(t.closed).toEqual(['r:token_expired', 'r:session_expired']);
    expect(t.calls).toEqual([]);
  });

  it('frames keep the session alive through the store (a touch per touch interval), so idle expiry does not end it', async () => {
    const t = setup({ framesAreActivity: true });
    const s = t.open('h1', 'alice');
    for (let i = 0; i < 8; i++) {
      t.advance(1_500);
      s.client.write('frame');
      await t.live.sweep();
    }
    expect(t.closed).toEqual([]);
    expect(t.calls.filter((c) => c.startsWith('keepAlive')).length).toBeGreaterThanOrEqual(4);
    expect(t.stored.get('h1')?.lastSeenAt).toBeGreaterThan(t.now - 2_000);
  });

  it('with frames not counting, idle expiry ends the socket after asking the store', async () => {
    const t = setup({ framesAreActivity: false });
    const s = t.open('h1', 'alice');
    t.advance(9_000);
    s.client.write('frame');
    await t.live.sweep();
    expect(t.calls).toEqual([]);
    t.advance(1_000);
    await t.live.sweep();
    expect(t.calls).toEqual(['current h1']);
    expect(t.closed).toEqual(['r:session_idle']);
  });

  it('an idle deadline reached while HTTP requests moved lastSeenAt elsewhere keeps the socket', async () => {
    const t = setup({ framesAreActivity: false });
    t.open('h1', 'alice');
    t.advance(8_000);
    t.stored.set('h1', { ...(t.stored.get('h1') as SocketSession), lastSeenAt: t.now });
    t.advance(2_000);
    await t.live.sweep();
    expect(t.closed).toEqual([]);
    // Idle from the moved lastSeenAt (8 s in): 18 s in.
    t.advance(7_000);
    await t.live.sweep();
    expect(t.closed).toEqual([]);
    t.advance(1_000);
    await t.live.sweep();
    expect(t.closed).toEqual(['r:session_idle']);
  });

  it('while the bus is down, every sweep asks the store, and a session revoked meanwhile is closed', async () => {
    const t = setup();
    t.open('h1', 'alice');
    t.open('h2', 'alice');
    t.bus.connected = false;
    t.stored.delete('h1');
    await t.live.sweep();
    expect(t.calls).toEqual(['current h1', 'current h2']);
    expect(t.closed).toEqual(['r:session_gone']);
  });

  it('after a gap in the subscription, every session is asked about once', async () => {
    const t = setup();
    t.open('h1', 'alice');
    t.open('h2', 'bob');
    t.stored.delete('h2');
    t.bus.onGap();
    await new Promise((r) => setImmediate(r));
    expect(t.calls.sort()).toEqual(['current h1', 'current h2']);
    expect(t.closed).toEqual(['r:session_gone']);
  });

  it('keeps a socket open when the store cannot answer (the next sweep asks again); the absolute deadline still holds', async () => {
    const t = setup();
    t.open('h1', 'alice', t.now + 20_000);
    t.bus.connected = false;
    const failing = t.live as unknown as { sessions: { current: () => Promise<never> } };
    failing.sessions.current = async () => {
      throw new Error('redis down');
    };
    await t.live.sweep();
    expect(t.closed).toEqual(['check-failed']);
    t.advance(20_000);
    await t.live.sweep();
    expect(t.closed).toEqual(['check-failed', 'r:session_expired']);
  });

  it('forgets a socket its client closed, and closes the rest with 1001 at shutdown', () => {
    const t = setup();
    const gone = t.open('h1', 'alice');
    const stays = t.open(undefined, undefined);
    gone.client.destroy();
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(t.closed).toEqual(['r:client_closed']);
        t.live.closeAll();
        expect(t.closed).toEqual(['r:client_closed', 'r:shutdown']);
        expect(Buffer.concat(stays.written)).toEqual(closeFrame(1001, 'shutdown'));
        expect(t.live.size).toBe(0);
        resolve();
      }),
    );
  });

  it('registers before the upstream answers: an event meanwhile drops the client, and the late 101 is closed', () => {
    const t = setup();
    const client = new PassThrough();
    t.stored.set('h9', { idHash: 'h9', lastSeenAt: t.now, expiresAt: t.now + 100_000 });
    const pending = t.live.track({ route: 'r', sub: 'alice', session: t.stored.get('h9'), expiresAt: t.now + 100_000, client });
    t.bus.onEvent({ type: 'session', idHash: 'h9', reason: 'logout' });
    expect(client.destroyed).toBe(true);
    const upstream = new PassThrough();
    expect(pending?.attach(upstream)).toBe(false);
    expect(upstream.destroyed).toBe(true);
    expect(t.closed).toEqual(['r:logout']);
    expect(t.live.size).toBe(0);
  });

  it('forgets an upgrade the upstream refused, and one whose client had already gone', () => {
    const t = setup();
    t.live.track({ route: 'r', sub: undefined, session: undefined, expiresAt: Infinity, client: new PassThrough() })?.failed();
    expect(t.closed).toEqual(['r:upstream_failed']);
    const gone = new PassThrough();
    gone.destroy();
    expect(t.live.track({ route: 'r', sub: undefined, session: undefined, expiresAt: Infinity, client: gone })).toBeUndefined();
    expect(t.live.size).toBe(0);
  });
});
