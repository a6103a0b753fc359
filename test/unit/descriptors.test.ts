// Descriptor exhaustion is never silent: the once-a-second check counts every high sample and logs
// at most every 10 s; a listener's accept error is counted and logged, never an unheard 'error'
// event that would crash the process.
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { watchAcceptErrors } from '../../src/http/accept-errors.js';
import { createLogger } from '../../src/log.js';
import { watchDescriptors } from '../../src/metrics/fd-watch.js';

function sink() {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger('info', out) };
}
const flush = () => new Promise((r) => setTimeout(r, 20));

describe('the descriptor check', () => {
  it('counts each sample at 90% of the limit or more, logs at most every 10 s, and reads EMFILE on /proc as "at the limit"', async () => {
    const { lines, logger } = sink();
    const counter = new Counter({ name: 'fd_test', help: 'h', registers: [new Registry()] });
    let now = 0;
    let open: number | Error = 10;
    const watch = watchDescriptors({
      logger,
      counter,
      clock: { now: () => now },
      intervalMs: 3_600_000,
      source: { limit: async () => 100, open: async () => (typeof open === 'number' ? open : Promise.reject(open)) },
    });
    await watch.check();
    open = 95;
    await watch.check();
    now += 1000;
    await watch.check();
    now += 10_000;
    open = Object.assign(new Error('too many'), { code: 'EMFILE' });
    await watch.check();
    watch.stop();
    await flush();
    expect((await counter.get()).values[0]?.value).toBe(3);
    const logged = lines.filter((l) => l.level === 'error');
    expect(logged.map((l) => [l.open, l.samples])).toEqual([
      [95, 1],
      [100, 2],
    ]);
  });

  it('stops quietly where there is no /proc', async () => {
    const { lines, logger } = sink();
    const counter = new Counter({ name: 'fd_test2', help: 'h', registers: [new Registry()] });
    const watch = watchDescriptors({
      logger,
      counter,
      clock: { now: () => 0 },
      intervalMs: 3_600_000,
      source: { limit: async () => 100, open: async () => Promise.reject(Object.assign(new Error('nope'), { code: 'ENOENT' })) },
    });
    await watch.check();
    await watch.check();
    watch.stop();
    await flush();
    expect((await counter.get()).values[0]?.value ?? 0).toBe(0);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('accept errors', () => {
  it('are counted by reason and logged, and do not crash the process', async () => {
    const { lines, logger } = sink();
    const counter = new Counter({ name: 'accept_test', help: 'h', labelNames: ['listener', 'reason'] as const, registers: [new Registry()] });
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    watchAcceptErrors(server, 'public', { logger, counter, clock: { now: () => 0 } });
    server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' }));
    server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' }));
    server.emit('error', Object.assign(new Error('accept EPERM'), { code: 'EPERM', syscall: 'accept' }));
    server.close();
    await flush();
    const values = (await counter.get()).values.map((v) => [v.labels.reason, v.value]);
    expect(values).toEqual([
      ['fd_exhausted', 2],
      ['other', 1],
    ]);
    expect(lines.filter((l) => l.level === 'error').map((l) => [l.code, l.count])).toEqual([['EMFILE', 1]]);
  });
});

describe('an upstream connection refused for want of descriptors', () => {
  it('is fd_exhausted, answered 503, and does not eject the target (the gateway is at fault, not it)', async () => {
    const { classifyUpstreamError } = await import('../../src/forward/upstream-errors.js');
    for (const code of ['EMFILE', 'ENFILE']) {
      expect(classifyUpstreamError(Object.assign(new Error('connect'), { code }))).toEqual({ kind: 'fd_exhausted', code: 'upstream_unavailable', beforeSend: false });
    }
  });
});
