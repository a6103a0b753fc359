// Raw HTTP/1.1 over a socket, for requests no client library would send (smuggling shapes,
// malformed targets) and for reading exactly what came back.
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

export function parseRaw(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number((statusLine ?? '').split(' ')[1]), headers, body: end === -1 ? '' : raw.slice(end + 4), raw };
}

/** Send `request` as-is and read until the server closes or `timeoutMs` passes. */
export function rawRequest(url: string, request: string | Buffer, timeoutMs = 3000): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (chunks.length) resolve(parseRaw(Buffer.concat(chunks).toString('latin1')));
      else reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1')));
    });
    socket.write(request);
  });
}

/** A GET with `Connection: close`, target sent verbatim. */
export function rawGet(url: string, target: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const host = new URL(url).host;
  let text = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  return rawRequest(url, text + '\r\n');
}
