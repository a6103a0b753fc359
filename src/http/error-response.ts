// The only place error bodies are written. JSON by default, a small HTML page for browsers that
// ask for one; the stable code is in the body and in X-Gateway-Error, so a client (and an
// operator reading a HAR file) can tell the gateway's errors from the upstream's.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { ERRORS, type ErrorCode, type GatewayError } from '../errors.js';
import { renderErrorPage, type ErrorPage } from '../config/error-page.js';

export const GATEWAY_ERROR_HEADER = 'x-gateway-error';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html') && !accept.includes('application/json');
}

export function errorBody(code: ErrorCode, requestId: string, reason?: string): string {
  return JSON.stringify(reason === undefined ? { error: code, message: ERRORS[code].message, requestId } : { error: code, reason, message: ERRORS[code].message, requestId });
}

function htmlBody(code: ErrorCode, requestId: string, reason?: string): string {
  const status = ERRORS[code].status;
  const title = `${status} ${STATUS_CODES[status] ?? ''}`;
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body><h1>${title}</h1><p>${escapeHtml(ERRORS[code].message)}</p>` +
    `<p><small>Error <code>${code}</code>${reason === undefined ? '' : ` (<code>${escapeHtml(reason)}</code>)`}, request <code>${escapeHtml(requestId)}</code></small></p></body></html>`
  );
}

/** Answer with a gateway error; a response already under way is destroyed instead (never a clean end). */
export function renderError(req: IncomingMessage, res: ServerResponse, err: GatewayError, requestId: string, page?: ErrorPage): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // After a framing error, or with a request body still unread, the connection cannot be trusted
  // to carry a next request (that is how smuggled requests get in): close it.
  // (HTTP/2 has no such header: a stream ends alone, and its connection-specific headers are forbidden.)
  const h2 = req.httpVersionMajor === 2;
  const unreadBody = !req.complete && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
  const close = !h2 && (err.code === 'request_smuggling' || unreadBody);
  const html = wantsHtml(req);
  const body = !html
    ? errorBody(err.code, requestId, err.reason)
    : page
      ? renderErrorPage(page, err.status, { message: ERRORS[err.code].message, code: err.code, reason: err.reason ?? '', requestId })
      : htmlBody(err.code, requestId, err.reason);
  // What a stage set is dropped, except the route's CORS answer (a page must be able to read the
  // error) and HSTS (an error over HTTPS still pins HTTPS).
  for (const name of res.getHeaderNames()) if (!name.startsWith('access-control-') && name !== 'vary' && name !== 'strict-transport-security') res.removeHeader(name);
  const extra = h2 && err.headers?.connection !== undefined ? withoutConnection(err.headers) : err.headers;
  res.writeHead(err.status, {
    ...extra,
    'content-type': html ? 'text/html; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-request-id': requestId,
    [GATEWAY_ERROR_HEADER]: err.code,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function withoutConnection(headers: Readonly<Record<string, string>>): Record<string, string> {
  const { connection: _, ...rest } = headers;
  return rest;
}

/** A whole HTTP/1.1 error response for a raw socket (parser errors, refused upgrades); closes the connection. */
export function rawErrorResponse(code: ErrorCode, requestId: string, headers: Readonly<Record<string, string>> = {}): string {
  const status = ERRORS[code].status;
  const body = errorBody(code, requestId);
  let extra = '';
  for (const [name, value] of Object.entries(headers)) extra += `${name}: ${value}\r\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${extra}` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `cache-control: no-store\r\nx-request-id: ${requestId}\r\n${GATEWAY_ERROR_HEADER}: ${code}\r\n` +
    `connection: close\r\n\r\n${body}`
  );
}
