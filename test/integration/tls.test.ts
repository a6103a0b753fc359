// HTTPS at the edge: the public listener with the gateway's own certificate (signed by a CA the test
// makes), TLS 1.2 as the floor, HSTS on every answer over HTTPS, a plain port that only redirects,
// and a certificate swapped on the live listener under traffic with no failed request; a new pair
// that does not match is refused and the running one kept.
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, type TestCa } from '../support/certs.js';
import { startIssuer, type TestIssuer } from '../support/issuer.js';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type Upstream } from '../support/upstream.js';
import { freePort } from '../support/redis.js';

let ca: TestCa;
let up: Upstream;
let gw: TestGateway;
let certFile: string;
let keyFile: string;
let caPem: Buffer;
let redirectPort: number;
beforeAll(async () => {
  ca = await makeCa();
  caPem = await readFile(ca.certFile);
  const first = await ca.issue('server');
  // The files the gateway reads; a reload replaces their content.
  certFile = `${ca.dir}/live.crt`;
  keyFile = `${ca.dir}/live.key`;
  await copyFile(first.certFile, certFile);
  await copyFile(first.keyFile, keyFile);
  up = await startUpstream();
  redirectPort = await freePort();
  gw = await startTestGateway({
    routes: [route('app', '/app', up.url)],
    gateway: { listen: { host: '127.0.0.1', port: 0, tls: { certFile, keyFile, redirectHttpPort: redirectPort, acmeChallengeDir: ca.dir } } },
  });
}, 30_000);
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

/** One HTTPS request trusting only the test CA: status, headers and the serial of the certificate served. */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; serial: string }> {
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca: caPem, headers, agent: false }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, serial }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS on the public listener', () => {
  it('serves routes over TLS with the configured certificate, and says HSTS on answers and errors alike', async () => {
    expect(gw.url).toMatch(/^https:\/\//);
    const ok = await get('/app/x');
    expect(ok.status).toBe(200);
    expect(ok.headers['strict-transport-security']).toBe('max-age=31536000');
    const missing = await get('/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it('refuses TLS 1.1 and lower', async () => {
    const { port } = new URL(gw.url);
    const outcome = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: Number(port), ca: caPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }, () => {
        resolve(`connected ${s.getProtocol()}`);
        s.end();
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(`refused ${e.code ?? e.message}`));
    });
    expect(outcome).toMatch(/^refused/);
  });

  it('answers ACME HTTP-01 challenges on the plain port from acmeChallengeDir, and nothing else from it', async () => {
    await writeFile(`${ca.dir}/tok-123_abc`, 'tok-123_abc.thumbprint');
    const res = await request(`http://127.0.0.1:${redirectPort}/.well-known/acme-challenge/tok-123_abc`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('tok-123_abc.thumbprint');
    const missing = await request(`http://127.0.0.1:${redirectPort}/.well-known/acme-challenge/nope`);
    await missing.body.dump();
    expect(missing.statusCode).toBe(404);
    // Not a token: redirected, never a file outside the directory.
    const escape = await request(`http://127.0.0.1:${redirectPort}/.well-known/acme-challenge/..%2fca.key`, { headers: { host: 'gw.example' } });
    await escape.body.dump();
    expect(escape.statusCode).toBe(308);
  });

  it('redirects the plain port to HTTPS with 308, keeping the path', async () => {
    const res = await request(`http://127.0.0.1:${redirectPort}/app/x?q=1`, { headers: { host: 'gw.example' } });
    await res.body.dump();
    expect(res.statusCode).toBe(308);
    expect(res.headers.location).toBe(`https://gw.example:${new URL(gw.url).port}/app/x?q=1`);
  });

  it('swaps the certificate under live traffic with no failed request; a pair that does not match is refused and the running one kept', async () => {
    const before = (await get('/app/x')).serial;
    const next = await ca.issue('renewed');
    let failures = 0;
    let done = false;
    const traffic = (async () => {
      let n = 0;
      while (!done || n < 20) {
        n++;
        try {
          if ((await get('/app/x')).status !== 200) failures++;
        } catch {
          failures++;
        }
      }
    })();
    await copyFile(next.certFile, certFile);
    await copyFile(next.keyFile, keyFile);
    expect(await gw.reloadCertificate()).toBe(true);
    done = true;
    await traffic;
    expect(failures).toBe(0);
    const after = (await get('/app/x')).serial;
    expect(after).not.toBe(before);

    // A certificate with another certificate's key: refused, the renewed pair still served.
    await copyFile(ca.keyFile, keyFile);
    expect(await gw.reloadCertificate()).toBe(false);
    expect((await get('/app/x')).serial).toBe(after);
    expect(gw.logs.some((l) => l.msg === 'TLS certificate reload refused; keeping the running certificate')).toBe(true);
  }, 30_000);
});

describe('client certificates on the public listener', () => {
  let mtls: TestGateway;
  let optional: TestGateway;
  let client: { certFile: string; keyFile: string };
  let idp: TestIssuer;
  beforeAll(async () => {
    client = await ca.issue('alice-client', { hosts: ['alice-device'] });
    const tls = await ca.issue('mtls-server');
    mtls = await startTestGateway({
      routes: [route('app', '/app', up.url)],
      gateway: { listen: { host: '127.0.0.1', port: 0, tls: { ...tls, clientCertificates: { mode: 'require', caFile: ca.certFile } } } },
    });
    idp = await startIssuer();
    optional = await startTestGateway({
      routes: [route('app', '/app', up.url), { ...route('ops', '/ops', up.url), auth: 'bearer', require: { clientCert: { subjects: ['alice-device'] } } }],
      gateway: {
        listen: { host: '127.0.0.1', port: 0, tls: { ...tls, clientCertificates: { mode: 'request', caFile: ca.certFile } } },
        issuers: [{ issuer: idp.issuer, jwksUrl: idp.jwksUrl, audiences: ['gateway'], algorithms: ['RS256'] }],
      },
    });
  }, 30_000);
  afterAll(async () => {
    await mtls?.stop();
    await optional?.stop();
    await idp?.close();
  });

  async function call(gateway: TestGateway, withCert: boolean, path = '/app/x', headers: Record<string, string> = {}): Promise<number | string> {
    const { port } = new URL(gateway.url);
    const extra = withCert ? { cert: await readFile(client.certFile), key: await readFile(client.keyFile) } : {};
    return new Promise((resolve) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path, ca: caPem, agent: false, headers: { 'x-client-cert-subject': 'root-device', ...headers }, ...extra }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`refused ${e.code ?? e.message}`));
      req.end();
    });
  }

  it('require: no certificate, no connection; a verified one reaches the upstream as its subject and fingerprint, never the client\'s own header', async () => {
    const before = up.received.length;
    expect(String(await call(mtls, false))).toMatch(/^refused/);
    expect(up.received.length).toBe(before);
    expect(await call(mtls, true)).toBe(200);
    const seen = up.received.at(-1)?.headers ?? {};
    expect(seen['x-client-cert-subject']).toBe('alice-device');
    expect(String(seen['x-client-cert-fingerprint'])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a clientCert policy admits the signed-in caller only with the listed device\'s certificate', async () => {
    const authorization = `Bearer ${await idp.sign({ sub: 'svc', aud: 'gateway' })}`;
    expect(await call(optional, true, '/ops/x', { authorization })).toBe(200);
    expect(await call(optional, false, '/ops/x', { authorization })).toBe(403);
  });

  it('request: served without a certificate, and then no client-cert header at all', async () => {
    expect(await call(optional, false)).toBe(200);
    const seen = up.received.at(-1)?.headers ?? {};
    expect(seen['x-client-cert-subject']).toBeUndefined();
    expect(seen['x-client-cert-fingerprint']).toBeUndefined();
  });
});

describe('TLS on the admin listener', () => {
  let admin: TestGateway;
  let scraper: { certFile: string; keyFile: string };
  beforeAll(async () => {
    scraper = await ca.issue('prometheus', { hosts: ['prometheus'] });
    admin = await startTestGateway({
      routes: [],
      gateway: { admin: { host: '127.0.0.1', port: 0, tls: { ...(await ca.issue('admin-server')), clientCertificates: { mode: 'require', caFile: ca.certFile } } } },
    });
  }, 30_000);
  afterAll(async () => admin?.stop());

  async function metrics(withCert: boolean): Promise<number | string> {
    const { port } = new URL(admin.adminUrl);
    const extra = withCert ? { cert: await readFile(scraper.certFile), key: await readFile(scraper.keyFile) } : {};
    return new Promise((resolve) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/metrics', ca: caPem, agent: false, ...extra }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`refused ${e.code ?? e.message}`));
      req.end();
    });
  }

  it('serves /metrics over HTTPS to a client with a certificate the CA verifies, and to nobody else', async () => {
    expect(admin.adminUrl).toMatch(/^https:\/\//);
    expect(await metrics(true)).toBe(200);
    expect(String(await metrics(false))).toMatch(/^refused/);
  });
});
