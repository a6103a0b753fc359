// Small request bodies for the gateway's own endpoints: bounded, JSON or form, never streamed.
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

export async function readSmallBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new GatewayError('body_too_large', { headers: { connection: 'close' } });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new GatewayError('body_too_large', { headers: { connection: 'close' } });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export type FormKind = 'json' | 'form';

/** A flat string map from a JSON object or a urlencoded form; anything else is 400/415. */
export async function readFields(req: IncomingMessage, maxBytes: number): Promise<{ kind: FormKind; fields: Record<string, string> }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') throw new GatewayError('unsupported_media_type');
  const text = (await readSmallBody(req, maxBytes)).toString('utf8');
  const fields: Record<string, string> = {};
  if (type === 'application/x-www-form-urlencoded') {
    for (const [k, v] of new URLSearchParams(text)) fields[k] = v;
    return { kind: 'form', fields };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_body', { detail: 'malformed JSON' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new GatewayError('invalid_body');
  for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') fields[k] = v;
  return { kind: 'json', fields };
}
