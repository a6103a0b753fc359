// The gateway's own HTTPS calls trust the system CAs, and outboundTls.caFile besides: an issuer
// whose JWKS is served with a private CA's certificate is unreachable (fail closed, 503) until the
// bundle is configured, and then its tokens verify.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, type TestCa } from '../support/certs.js';
import { route, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startIssuer, type TestIssuer } from '../support/issuer.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

let ca: TestCa;
let idp: TestIssuer;
let jwks: Server;
let up: Upstream;
let jwksUrl = '';
const gateways: TestGateway[] = [];

beforeAll(async () => {
  ca = await makeCa();
  idp = await startIssuer();
  up = await startUpstream();
  const body = await (await request(idp.jwksUrl)).body.text();
  const cert = await ca.issue('jwks');
  jwks = createServer({ cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  jwksUrl = `https://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
}, 30_000);
afterAll(async () => {
  for (const g of gateways) await g.stop();
  jwks?.close();
  await idp?.close();
  await up?.close();
});

async function gatewayWith(outboundTls: Record<string, unknown>): Promise<TestGateway> {
  const gw = await startTestGateway({
    routes: [{ ...route('api', '/api', up.url), auth: 'bearer' }],
    gateway: { outboundTls, issuers: [{ issuer: idp.issuer, jwksUrl, audiences: ['gateway'], algorithms: ['RS256'] }] },
  });
  gateways.push(gw);
  return gw;
}

describe('outbound TLS', () => {
  it('refuses an issuer behind a private CA until outboundTls.caFile names it, then verifies its tokens', async () => {
    const token = await idp.sign({ sub: 'svc', aud: 'gateway' });
    const call = async (gw: TestGateway) => {
      const res = await request(`${gw.url}/api/x`, { headers: { authorization: `Bearer ${token}` } });
      await res.body.dump();
      return res.statusCode;
    };
    expect(await call(await gatewayWith({}))).toBe(503);
    expect(await call(await gatewayWith({ caFile: ca.certFile }))).toBe(200);
  });
});
