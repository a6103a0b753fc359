// Forwarding one request over undici, streaming both bodies with backpressure. The client going
// away aborts the upstream request; an upstream failing mid-body destroys the client's response
// (the client sees a truncated message, never a clean end). Redirects are passed back as they are:
// an undici Pool follows none.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import { filterRequestHeaders, filterResponseHeaders } from './headers.js';
import { classifyUpstreamError, type UpstreamFailureKind } from './upstream-errors.js';
import type { UpstreamGroup, UpstreamTarget } from './upstream-group.js';

/** What the forwarder needs of a route. */
export interface ForwardRoute {
  readonly name: string;
  /** Path prefix that `stripPrefix` removes. */
  readonly prefix: string;
  readonly stripPrefix: boolean;
  readonly preserveHost: boolean;
  readonly timeoutMs: number;
  readonly maxBodySize: number;
  readonly upstream: UpstreamGroup;
  /** Client headers that never go upstream. */
  readonly dropHeaders: ReadonlySet<string>;
  /** The gateway's session cookie: removed from Cookie, and upstream Set-Cookie for it dropped. */
  readonly sessionCookie: string | undefined;
}

/** What the forwarder reads from and records on the exchange. */
export interface ForwardExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly encodedPath: string;
  readonly query: string;
  readonly upstreamHeaders: string[];
  readonly route: ForwardRoute | undefined;
  upstreamOrigin: string | undefined;
  upstreamHeadersAt: number | undefined;
  bodyTooLarge: boolean;
}

export interface ForwardHooks {
  /** Called once per upstream failure, for metrics. */
  onUpstreamError(route: string, kind: UpstreamFailureKind): void;
}

export function upstreamPath(route: ForwardRoute, target: UpstreamTarget, ex: ForwardExchange): string {
  let path = ex.encodedPath;
  if (route.stripPrefix && route.prefix !== '/') {
    path = path.slice(route.prefix.length);
    if (path === '' || path.charCodeAt(0) !== 47) path = '/' + path;
  }
  return target.basePath + path + ex.query;
}

function requestBody(route: ForwardRoute, ex: ForwardExchange): IncomingMessage | Transform | null {
  const req = ex.req;
  const cl = req.headers['content-length'];
  if (cl !== undefined) {
    if (Number(cl) > route.maxBodySize) throw new GatewayError('body_too_large', { headers: { connection: 'close' } });
    return cl === '0' ? null : req;
  }
  if (req.headers['transfer-encoding'] === undefined) return null;
  // Chunked: the length is learnt while streaming, so count and stop at the limit.
  return req.pipe(new BodyLimit(route.maxBodySize, ex));
}

class BodyLimit extends Transform {
  private seen = 0;
  constructor(
    private readonly max: number,
    private readonly ex: ForwardExchange,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      this.ex.bodyTooLarge = true;
      cb(new GatewayError('body_too_large'));
      return;
    }
    cb(null, chunk);
  }
}

// The factory undici calls when the upstream's headers arrive; module-level, so no closure is
// allocated per request: the exchange rides along as `opaque`.
function onResponseHeaders(data: Dispatcher.StreamFactoryData<ForwardExchange>): ServerResponse {
  const ex = data.opaque;
  ex.upstreamHeadersAt = performance.now();
  const headers = filterResponseHeaders(data.headers as Record<string, string | string[] | undefined>, ex.route?.sessionCookie);
  headers['x-request-id'] = ex.requestId;
  ex.res.writeHead(data.statusCode, headers);
  return ex.res;
}

export async function forward(route: ForwardRoute, ex: ForwardExchange, hooks: ForwardHooks): Promise<void> {
  const res = ex.res;
  const body = requestBody(route, ex);
  // The response doubles as the abort signal (undici takes any EventEmitter that emits 'abort'):
  // no AbortController per request. It fires when the client goes away before the answer is done.
  res.once('close', abortIfUnfinished);
  try {
    await send(route, ex, hooks, body, res);
  } finally {
    res.off('close', abortIfUnfinished);
  }
}

function abortIfUnfinished(this: ServerResponse): void {
  if (!this.writableFinished) {
    (this as ServerResponse & { aborted?: boolean }).aborted = true;
    this.emit('abort');
  }
}

async function send(
  route: ForwardRoute,
  ex: ForwardExchange,
  hooks: ForwardHooks,
  body: IncomingMessage | Transform | null,
  signal: ServerResponse & { aborted?: boolean },
): Promise<void> {
  const { req, res } = ex;
  let target = route.upstream.pick();
  for (let attempt = 0; ; attempt++) {
    ex.upstreamOrigin = target.origin;
    const headers: string[] = [];
    filterRequestHeaders(req, route.dropHeaders, headers, route.sessionCookie);
    headers.push('host', route.preserveHost ? (req.headers.host ?? target.host) : target.host);
    for (const h of ex.upstreamHeaders) headers.push(h);
    try {
      await target.pool.stream<ForwardExchange>(
        {
          path: upstreamPath(route, target, ex),
          method: req.method as Dispatcher.HttpMethod,
          headers,
          body,
          signal,
          opaque: ex,
          headersTimeout: route.timeoutMs,
          bodyTimeout: route.timeoutMs,
        },
        onResponseHeaders,
      );
      return;
    } catch (err) {
      if (ex.bodyTooLarge) throw new GatewayError('body_too_large', { cause: err, headers: { connection: 'close' } });
      const failure = classifyUpstreamError(err);
      if (signal.aborted) {
        // The client left; there is nobody to answer.
        hooks.onUpstreamError(route.name, 'aborted');
        return;
      }
      hooks.onUpstreamError(route.name, failure.kind);
      if (failure.beforeSend) route.upstream.eject(target);
      // Retry once on another target when nothing was sent and there is no body to replay.
      if (failure.beforeSend && body === null && attempt === 0 && route.upstream.size > 1 && !res.headersSent) {
        target = route.upstream.pick(target);
        continue;
      }
      if (res.headersSent) {
        // Mid-body: make the client see a broken message, not a clean end.
        res.destroy(err as Error);
        return;
      }
      throw new GatewayError(failure.code, { cause: err });
    }
  }
}
