// Settings that are right on a laptop and wrong in production. `gateway check-config` lists them as
// warnings, and with --production (or NODE_ENV=production, as the Docker image sets) as problems
// that fail the check; `gateway start` logs them as warnings.
import type { GatewayConfig } from './schema.js';

export interface DevelopmentSetting {
  /** The key, as in gateway.yaml. */
  readonly key: string;
  readonly message: string;
}

export function developmentSettings(gw: GatewayConfig): DevelopmentSetting[] {
  const out: DevelopmentSetting[] = [];
  const add = (key: string, message: string) => out.push({ key, message });
  if (gw.session.store === 'memory') add('session.store', 'memory: sessions live in one process and are lost on restart; use redis');
  if (gw.session.memoryFallback) add('session.memoryFallback', 'true: without Redis at start the gateway runs on memory instead of failing closed');
  if (gw.tokens.generateDevKey) add('tokens.generateDevKey', 'true: a missing key is generated at start, and every restart invalidates outstanding tokens');
  if (!gw.session.cookie.secure) add('session.cookie.secure', 'false: the session cookie is sent over plain HTTP');
  if (gw.tokens.algorithm === 'HS256') add('tokens.algorithm', 'HS256: every upstream that can verify tokens can also forge them');
  if (gw.admin.credentialFile === undefined && gw.admin.credentialEnv === undefined) {
    add('admin.credentialFile', 'and admin.credentialEnv unset: mutating admin endpoints refuse every request');
  }
  for (const origin of gw.publicOrigins) if (origin.startsWith('http://')) add('publicOrigins', `${origin} is plain HTTP`);
  if (gw.login.verifyUrl?.startsWith('http://')) add('login.verifyUrl', 'is plain HTTP: passwords travel in clear');
  if (gw.login.claimsUrl?.startsWith('http://')) add('login.claimsUrl', 'is plain HTTP');
  for (const cidr of gw.trustedProxies) {
    if (/^(0\.0\.0\.0|::)\/0$/.test(cidr)) add('trustedProxies', `${cidr} trusts every peer: any client sets its own address (and escapes the per-address limit)`);
  }
  return out;
}
