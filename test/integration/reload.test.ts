// routes.yaml reloads: on change and on demand, validated, swapped atomically; an invalid file keeps
// the old table; in-flight requests finish on the table they started with.
import { writeFile } from 'node:fs/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';
import { until } from '../support/wait.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function setup(watch: boolean): Promise<{ gw: TestGateway; up: Upstream }> {
  const up = await startUpstream();
  const gw = await startTestGateway({ routes: [route('a', '/a', up.url)], watchRoutes: watch });
  cleanup.push(() => up.close(), () => gw.stop());
  return { gw, up };
}

async function status(url: string): Promise<number> {
  const res = await request(url);
  await res.body.dump();
  return res.statusCode;
}


describe('routes reload', () => {
  it('picks up a changed routes file without a restart', async () => {
    const { gw, up } = await setup(true);
    expect(await status(`${gw.url}/b`)).toBe(404);
    await gw.writeRoutes([route('a', '/a', up.url), route('b', '/b', up.url)]);
    await until(async () => (await status(`${gw.url}/b`)) === 200);
    expect(await gw.registry.getSingleMetricAsString('gateway_config_reloads_total')).toContain('result="success"} 1');
  });

  it('keeps the old table when the new file is invalid, logs where, and counts the failure', async () => {
    const { gw, up } = await setup(false);
    await writeFile(gw.routesFile, `routes:\n  - name: a\n    match: { path: /a }\n    upstream: { url: ${up.url} }\n    auth: sesion\n`);
    expect(await gw.reloadRoutes()).toBe(false);
    expect(await status(`${gw.url}/a`)).toBe(200);
    const failure = gw.logs.find((l) => l.msg === 'routes reload failed; keeping the previous table');
    expect(failure?.problems).toEqual(['routes.yaml:5:11 routes[0].auth: "sesion" is not one of public, session, bearer, session_or_bearer']);
    expect(await gw.registry.getSingleMetricAsString('gateway_config_reloads_total')).toContain('result="failure"} 1');
  });

  it('lets an in-flight request finish on the table it started with', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = await startUpstream((req, res) => {
      req.resume();
      void gate.then(() => res.end('slow done'));
    });
    cleanup.push(() => slow.close());
    const { gw, up } = await setup(false);
    await gw.writeRoutes([route('a', '/a', up.url), route('slow', '/slow', slow.url)]);
    expect(await gw.reloadRoutes()).toBe(true);

    const inFlight = request(`${gw.url}/slow/1`);
    await until(async () => slow.received.length === 1);
    await gw.writeRoutes([route('a', '/a', up.url)]);
    expect(await gw.reloadRoutes()).toBe(true);
    expect(await status(`${gw.url}/slow/2`)).toBe(404);

    release();
    const res = await inFlight;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('slow done');
  });

  it('never applies a routes file caught half-written: a protected path never falls to the public route', async () => {
    const up = await startUpstream();
    const protectedRoutes = [route('site', '/', up.url), { ...route('admin', '/admin', up.url), auth: 'session' }];
    const gw = await startTestGateway({ routes: protectedRoutes, watchRoutes: true });
    cleanup.push(() => up.close(), () => gw.stop());
    const { stringify } = await import('yaml');
    const full = stringify({ routes: [...protectedRoutes, route('b', '/b', up.url)] });
    // Cut after the first route: valid YAML, with /admin gone (everything public).
    const cut = full.indexOf('  - name: admin');
    let sawOpen = false;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        if ((await status(`${gw.url}/admin/x`)) === 200) sawOpen = true;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // Written in place, in two parts, slower than the watcher's debounce.
    await writeFile(gw.routesFile, full.slice(0, cut));
    await new Promise((r) => setTimeout(r, 200));
    await writeFile(gw.routesFile, full);
    await until(async () => (await status(`${gw.url}/b`)) === 200, 5_000);
    polling = false;
    await poll;
    expect(sawOpen).toBe(false);
    expect(await status(`${gw.url}/admin/x`)).toBe(401);
  });

  it('keeps the running table when the new file is empty, unless it says allowEmpty: true', async () => {
    const { gw } = await setup(false);
    await writeFile(gw.routesFile, 'routes: []\n');
    expect(await gw.reloadRoutes()).toBe(false);
    expect(await status(`${gw.url}/a`)).toBe(200);
    expect(gw.logs.some((l) => l.msg === 'routes reload failed; keeping the previous table' && JSON.stringify(l.problems).includes('allowEmpty'))).toBe(true);
    await writeFile(gw.routesFile, 'routes: []\nallowEmpty: true\n');
    expect(await gw.reloadRoutes()).toBe(true);
    expect(await status(`${gw.url}/a`)).toBe(404);
  });
});
