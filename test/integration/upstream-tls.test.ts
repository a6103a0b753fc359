// TLS to upstreams: an https:// upstream is verified (system CAs by default, so a private CA's
// certificate is refused until the route names the CA bundle), the name verified follows the URL or
// upstream.tls.serverName, a client certificate answers an upstream that requires one (mTLS), and
// insecureSkipVerify accepts anything only with a loud warning. WebSocket upgrades follow the same
// settings, the server name included (SNI and the name verified).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, type TestCa } from '../support/certs.js';
import { ADMIN_AUTH, route, startTestGateway, type TestGateway } from '../support/gateway.js';

let ca: TestCa;
let plain: Server;
let wrongHost: Server;
let expired: Server;
let mutual: Server;
let gw: TestGateway;
const seen: { server: string; clientCn?: string }[] = [];

async function serve(cert: { certFile: string; keyFile: string }, name: string, mtls = false): Promise<[Server, string]> {
  const server = createServer(
    { cert: await readFile(cert.certFile), key: await readFile(cert.keyFile), ...(mtls ? { requestCert: true, rejectUnauthorized: true, ca: await readFile(ca.certFile) } : {}) },
    (req, res) => {
      req.resume();
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const cn = peer?.subject?.CN;
      seen.push({ server: name, clientCn: Array.isArray(cn) ? cn.join(',') : cn });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    },
  );
  // Every upstream also takes WebSockets, and says which server name the client asked for (SNI).
  new WebSocketServer({ server }).on('connection', (socket, req) => socket.send(`${name} sni=${String((req.socket as TLSSocket).servername)}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return [server, `https://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

beforeAll(async () => {
  ca = await makeCa();
  const [p, plainUrl] = await serve(await ca.issue('up'), 'plain');
  const [w, wrongUrl] = await serve(await ca.issue('other', { hosts: ['other.example'] }), 'wrong-host');
  const [m, mutualUrl] = await serve(await ca.issue('mutual'), 'mutual', true);
  const [e, expiredUrl] = await serve(await ca.issue('expired', { expired: true }), 'expired');
  [plain, wrongHost, mutual, expired] = [p, w, m, e];
  const client = await ca.issue('gateway-client', { hosts: ['gateway-client'] });
  const caFile = ca.certFile;
  gw = await startTestGateway({
    routes: [
      route('system-cas', '/system', plainUrl),
      route('own-ca', '/own', plainUrl, { upstream: { tls: { caFile } } }),
      route('wrong-host', '/wrong', wrongUrl, { websocket: true, upstream: { tls: { caFile } } }),
      route('expired', '/expired', expiredUrl, { websocket: true, upstream: { tls: { caFile } } }),
      route('server-name', '/named', wrongUrl, { websocket: true, upstream: { tls: { caFile, serverName: 'other.example' } } }),
      route('no-client-cert', '/mtls-none', mutualUrl, { upstream: { tls: { caFile } } }),
      route('client-cert', '/mtls', mutualUrl, { upstream: { tls: { caFile, certFile: client.certFile, keyFile: client.keyFile } } }),
      route('insecure', '/insecure', plainUrl, { upstream: { tls: { insecureSkipVerify: true } } }),
    ],
  });
}, 30_000);
afterAll(async () => {
  await gw?.stop();
  for (const s of [plain, wrongHost, mutual, expired]) s?.close();
});

async function get(path: string) {
  const res = await request(`${gw.url}${path}`);
  return { status: res.statusCode, body: await res.body.text() };
}

describe('TLS to upstreams', () => {
  it('verifies against the system CAs by default: a private CA\'s certificate is refused, nothing is sent', async () => {
    const before = seen.length;
    expect((await get('/system/x')).status).toBe(502);
    expect(seen.length).toBe(before);
  });

  it('verifies against the route\'s CA bundle, and the name in the certificate against the URL or serverName', async () => {
    expect(await get('/own/x')).toEqual({ status: 200, body: 'plain' });
    const before = seen.length;
    expect((await get('/wrong/x')).status).toBe(502);
    expect(seen.length).toBe(before);
    expect(await get('/named/x')).toEqual({ status: 200, body: 'wrong-host' });
  });

  it('refuses an upstream whose certificate has expired, though the CA signed it: nothing is sent', async () => {
    const before = seen.length;
    const res = await request(`${gw.url}/expired/x`);
    expect([res.statusCode, res.headers['x-gateway-error']]).toEqual([502, 'upstream_unavailable']);
    await res.body.dump();
    expect(seen.length).toBe(before);
    // Counted as a certificate problem, not an outage; the reason is in the log, never in the answer.
    const metrics = await (await request(`${gw.adminUrl}/metrics`, { headers: ADMIN_AUTH })).body.text();
    expect(metrics).toMatch(/gateway_upstream_errors_total\{route="expired",kind="tls"\} [1-9]/);
    expect(metrics).toMatch(/gateway_upstream_errors_total\{route="wrong-host",kind="tls"\} [1-9]/);
    expect(gw.logs.some((l) => l.cause === 'CERT_HAS_EXPIRED')).toBe(true);
  });

  it('upgrades WebSockets with the same verification and server name: SNI is serverName, a name mismatch is refused', async () => {
    const open = (path: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`${gw.url.replace('http', 'ws')}${path}`);
        ws.once('message', (d) => {
          resolve(String(d));
          ws.close();
        });
        ws.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode ?? 0}`));
        ws.once('error', () => resolve('error'));
      });
    expect(await open('/named/ws')).toBe('wrong-host sni=other.example');
    expect(await open('/wrong/ws')).toBe('refused 502');
    expect(await open('/expired/ws')).toBe('refused 502');
  });

  it('presents a client certificate to an upstream that requires one (mTLS)', async () => {
    expect((await get('/mtls-none/x')).status).toBe(502);
    expect(await get('/mtls/x')).toEqual({ status: 200, body: 'mutual' });
    expect(seen.at(-1)).toEqual({ server: 'mutual', clientCn: 'gateway-client' });
  });

  it('accepts any certificate only with insecureSkipVerify, and says so loudly at load', async () => {
    expect(await get('/insecure/x')).toEqual({ status: 200, body: 'plain' });
    expect(gw.logs.some((l) => l.level === 'warn' && l.route === 'insecure' && String(l.msg).includes('insecureSkipVerify'))).toBe(true);
  });
});
