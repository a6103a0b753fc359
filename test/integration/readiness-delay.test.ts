// shutdown.readinessDelay: on shutdown, readiness turns 503 at once while requests are still served
// for the delay (so a load balancer probing /readyz stops sending first); then the listener closes.
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { route, startTestGateway } from '../support/gateway.js';
import { startUpstream } from '../support/upstream.js';

describe('shutdown.readinessDelay', () => {
  it('keeps serving while not ready, then stops accepting', async () => {
    const up = await startUpstream();
    const gw = await startTestGateway({ routes: [route('site', '/', up.url)], gateway: { shutdown: { drainTimeout: '2s', readinessDelay: '800ms' } } });
    try {
      const started = Date.now();
      const stopping = gw.shutdown();
      const ready = await request(`${gw.adminUrl}/readyz`);
      expect(ready.statusCode).toBe(503);
      await ready.body.dump();
      await new Promise((r) => setTimeout(r, 300));
      const served = await request(`${gw.url}/x`);
      expect(served.statusCode).toBe(200);
      await served.body.dump();
      await stopping;
      expect(Date.now() - started).toBeGreaterThanOrEqual(800);
      await expect(request(`${gw.url}/x`)).rejects.toThrow();
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});
