// The session layer's metrics: authentication outcomes by route and reason, cache hits and misses,
// store latency, tokens minted, sessions created and revoked, sign-in attempts and rate limits.
// Never a user id, cookie or token in a label.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSessionEnv, type SessionEnv } from '../support/session-gateway.js';

let env: SessionEnv;
beforeAll(async () => {
  env = await startSessionEnv({ gateway: { login: { rateLimit: { perUsername: { max: 2, window: '1m' } } } } });
});
afterAll(async () => env.close());

describe('auth metrics', () => {
  it('count what happened, labelled by route and fixed reasons only', async () => {
    const id = await env.login('alice');
    await env.get('/app/1', id);
    await env.get('/app/2', id);
    await env.get('/app/3');
    await env.get('/app/4', 'garbage');
    await env.send('POST', '/auth/logout', id, { origin: env.origin });
    for (let i = 0; i < 3; i++) {
      await env.send('POST', '/auth/login', undefined, { 'content-type': 'application/json', origin: env.origin }, JSON.stringify({ username: 'root', password: 'bad' }));
    }
    // Unknown /auth/ paths and session handles never become label values.
    await env.get('/auth/user-value-123');
    await env.get('/auth/sessions/handle-value-abcdefghi');
    const text = await env.gw.registry.metrics();
    expect(text).toContain('route="gateway:/auth/*",method="GET",status="404"');
    expect(text).toContain('route="gateway:/auth/sessions/{handle}",method="GET",status="405"');
    expect(text).toContain('gateway_auth_outcomes_total{route="app",result="authenticated",reason="session"} 2');
    expect(text).toContain('gateway_auth_outcomes_total{route="app",result="refused",reason="unauthenticated"} 1');
    expect(text).toContain('gateway_auth_outcomes_total{route="app",result="refused",reason="session_invalid"} 1');
    expect(text).toMatch(/gateway_session_cache_total\{result="hit"\} [1-9]/);
    expect(text).toMatch(/gateway_session_cache_total\{result="miss"\} [1-9]/);
    expect(text).toMatch(/gateway_session_store_duration_seconds_count\{op="get",result="ok"\} [1-9]/);
    expect(text).toContain('gateway_tokens_minted_total{audience="orders"} 1');
    expect(text).toContain('gateway_sessions_created_total 1');
    expect(text).toContain('gateway_sessions_revoked_total{reason="logout"} 1');
    expect(text).toContain('gateway_login_attempts_total{result="success"} 1');
    expect(text).toContain('gateway_login_attempts_total{result="invalid_credentials"} 2');
    expect(text).toContain('gateway_login_attempts_total{result="rate_limited"} 1');
    expect(text).toContain('gateway_rate_limit_refusals_total{limit="username"} 1');
    expect(text).toContain('gateway_requests_total{route="gateway:/auth/login",method="POST",status="200"} 1');
    for (const secret of [id, 'u-alice', 'alice@example.com', 'garbage', 'user-value-123', 'handle-value']) expect(text).not.toContain(secret);
    const logs = JSON.stringify(env.gw.logs);
    for (const secret of [id, 'pw-alice', 'bad"']) expect(logs).not.toContain(secret);
  });
});
