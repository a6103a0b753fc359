// The gateway's own HTTPS calls (issuers' JWKS, the credential check, the claims source) trust the
// system CAs, and outboundTls.caFile besides when an identity service has a private CA. One undici
// Agent for all of them; undefined (undici's default) when nothing is configured.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import type { LoadedConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';

export async function outboundDispatcher(config: LoadedConfig): Promise<Dispatcher | undefined> {
  const caFile = config.gateway.outboundTls.caFile;
  if (!caFile) return undefined;
  const file = resolve(dirname(config.gatewayFile), caFile);
  let extra: string;
  try {
    extra = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file: config.gatewayFile, line: 0, column: 0, path: 'outboundTls.caFile', message: `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
  return new Agent({ connect: { ca: [...rootCertificates, extra] } });
}
