// Forwarding one request over undici, streaming both bodies with backpressure. The client going
// away aborts the upstream request; an upstream failing mid-body destroys the client's response
// (the client sees a truncated message, never a clean end). Redirects are passed back as they are:
// an undici Pool follows none.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { errors, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import { filterRequestHeaders, filterResponseHeaders, type HeaderPolicy } from './headers.js';
import { classifyUpstreamError, type UpstreamFailureKind } from './upstream-errors.js';
import type { UpstreamGroup, UpstreamTarget } from './upstream-group.js';

const { RequestAbortedError } = errors;

/** What the forwarder needs of a route. */
export interface ForwardRoute {
  readonly name: string;
  /** Path prefix that `stripPrefix` removes. */
  readonly prefix: string;
  /** How many segments `stripPrefix` removes: the route's own path's (a rule's path may be longer). */
  readonly prefixSegments: number;
  readonly stripPrefix: boolean;
  readonly preserveHost: boolean;
  /** upstream.host: the Host sent instead of the target's. */
  readonly hostOverride: string | undefined;
  /** headers.request.set, flat [name, value, ...]: appended after the client's filtered headers (their names dropped from the client's). */
  readonly requestHeaders: readonly string[];
  /** headers.response: set replaces the upstream's value, remove drops it. */
  readonly responseHeaders: { readonly set: readonly (readonly [string, string])[]; readonly remove: ReadonlySet<string> } | undefined;
  readonly timeoutMs: number;
  readonly maxBodySize: number;
  readonly upstream: UpstreamGroup;
  /** Which client headers never go upstream. */
  readonly headerPolicy: HeaderPolicy;
  /** The gateway's cookies: removed from Cookie, and upstream Set-Cookie for them dropped. */
  readonly ownedCookies: readonly string[];
  /** The gateway answers CORS on this route: the upstream's Access-Control-* headers are dropped, its Vary kept with Origin added. */
  readonly ownsCors: boolean;
}

/** What the forwarder reads from and records on the exchange. */
export interface ForwardExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly encodedPath: string;
  readonly query: string;
  readonly upstreamHeaders: string[];
  /** Whether the TCP peer is a trusted proxy (its routing headers may pass: trustedProxyHeaders). */
  readonly trustedPeer: boolean;
  readonly route: ForwardRoute | undefined;
  upstreamOrigin: string | undefined;
  upstreamHeadersAt: number | undefined;
  bodyTooLarge: boolean;
  /** The upstream request in flight, aborted when the client goes away (clientClosed). */
  upstreamCall: { abortForClient(): void } | undefined;
}

export interface ForwardHooks<E extends ForwardExchange = ForwardExchange> {
  /** Called once per upstream failure, for metrics. */
  onUpstreamError(route: string, kind: UpstreamFailureKind): void;
  /** The gateway must answer itself (no upstream answer was started): render this error. */
  failed(ex: E, err: GatewayError): void;
}

export function upstreamPath(route: ForwardRoute, target: UpstreamTarget, ex: ForwardExchange): string {
  let path = ex.encodedPath;
  if (route.stripPrefix && route.prefixSegments > 0) {
    // Strip as many segments as the prefix has, never as many characters: a caseInsensitive route
    // matches `/api..` or `/%EF%BD%81pi` for `/api`, and cutting four characters off those would
    // leave `../` or half an escape in front of the rest.
    let end = 0;
    for (let n = 0; n < route.prefixSegments && end !== -1; n++) end = path.indexOf('/', end + 1);
    path = end === -1 ? '/' : path.slice(end);
  }
  return target.basePath + path + ex.query;
}

function requestBody(route: ForwardRoute, ex: ForwardExchange): IncomingMessage | Transform | null {
  const req = ex.req;
  if (req.httpVersionMajor === 2) return h2Body(route, ex);
  const cl = req.headers['content-length'];
  if (cl !== undefined) {
    if (Number(cl) > route.maxBodySize) throw new GatewayError('body_too_large', { headers: { connection: 'close' } });
    if (cl === '0') return null;
    invite(ex);
    return req;
  }
  if (req.headers['transfer-encoding'] === undefined) return null;
  invite(ex);
  // Chunked: the length is learnt while streaming, so count and stop at the limit.
  return req.pipe(new BodyLimit(route.maxBodySize, ex));
}

/**
 * `Expect: 100-continue`: the client waits for this before sending its body. It comes only now,
 * after authentication, policy and the size limit passed, so a refused upload is never sent.
 */
export function invite(ex: Pick<ForwardExchange, 'req' | 'res'>): void {
  const expect = ex.req.headers.expect;
  if (typeof expect === 'string' && expect.toLowerCase() === '100-continue') ex.res.writeContinue();
}

/**
 * An HTTP/2 request body: framed by its stream, with or without a Content-Length. Always counted
 * (the limit holds without a declared length), checked against a declared length at its end, and
 * broken off when the client resets the stream: Node's compatibility request then ends as if the
 * body were complete, which would send the upstream a whole, shorter request.
 */
function h2Body(route: ForwardRoute, ex: ForwardExchange): Transform | null {
  const req = ex.req as IncomingMessage & { stream?: { endAfterHeaders?: boolean }; aborted: boolean };
  if (req.stream?.endAfterHeaders) return null;
  const cl = req.headers['content-length'];
  const declared = cl === undefined ? undefined : Number(cl);
  if (declared !== undefined && declared > route.maxBodySize) throw new GatewayError('body_too_large');
  if (declared === 0) return null;
  invite(ex);
  const body = new BodyLimit(route.maxBodySize, ex, declared);
  const broken = () => body.destroy(new Error('the client reset the stream before its body ended'));
  if (req.aborted) broken();
  else req.once('aborted', broken);
  return req.pipe(body);
}

class BodyLimit extends Transform {
  private seen = 0;
  constructor(
    private readonly max: number,
    private readonly ex: ForwardExchange,
    /** A declared Content-Length the body must match (HTTP/2: nghttp2 is not relied on for it). */
    private readonly declared?: number,
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
  override _flush(cb: TransformCallback): void {
    if (this.declared !== undefined && this.seen !== this.declared) cb(new Error('the body is not as long as its Content-Length'));
    else cb();
  }
}

/**
 * Send the exchange upstream and stream the answer back. The outcome arrives through callbacks, not
 * a promise (a cache-hit request then creates none): an error the gateway must answer goes to
 * `hooks.failed`; a request it cannot start (its body too large) throws GatewayError at once. The
 * caller must call clientClosed(ex) when the response closes.
 */
export function forward<E extends ForwardExchange>(route: ForwardRoute, ex: E, hooks: ForwardHooks<E>): void {
  // The client left while a stage waited (a store read, a JWKS fetch): nobody is there to answer,
  // and a request sent now would act on the upstream for no one (a POST would still be carried out).
  if (clientGone(ex.res)) return;
  send({ route, ex, hooks, body: requestBody(route, ex) }, route.upstream.pick(), 0);
}

/** The client's connection (HTTP/1) or stream (HTTP/2) is already gone. */
function clientGone(res: ServerResponse): boolean {
  return res.destroyed || (res as ServerResponse & { stream?: { destroyed: boolean } }).stream?.destroyed === true;
}

/** What one forward keeps across its attempts. */
interface Forwarding<E extends ForwardExchange> {
  readonly route: ForwardRoute;
  readonly ex: E;
  readonly hooks: ForwardHooks<E>;
  readonly body: IncomingMessage | Transform | null;
}

function send<E extends ForwardExchange>(f: Forwarding<E>, target: UpstreamTarget, attempt: number): void {
  const { route, ex } = f;
  ex.upstreamOrigin = target.origin;
  const headers: string[] = [];
  filterRequestHeaders(ex.req, route.headerPolicy, headers, route.ownedCookies, ex.trustedPeer);
  headers.push('host', route.preserveHost ? (ex.req.headers.host ?? target.host) : (route.hostOverride ?? target.host));
  for (const h of route.requestHeaders) headers.push(h);
  for (const h of ex.upstreamHeaders) headers.push(h);
  const call = new UpstreamCall(f, target, attempt);
  ex.upstreamCall = call;
  target.pool.dispatch(
    {
      path: upstreamPath(route, target, ex),
      method: ex.req.method as Dispatcher.HttpMethod,
      headers,
      body: f.body,
      headersTimeout: route.timeoutMs,
      bodyTimeout: route.timeoutMs,
    },
    call,
  );
}

/** An attempt failed: retry, break the client's answer off, or have the gateway answer. */
function upstreamFailed<E extends ForwardExchange>(f: Forwarding<E>, call: UpstreamCall<E>, target: UpstreamTarget, attempt: number, err: Error): void {
  const { route, ex, hooks } = f;
  const res = ex.res;
  if (ex.bodyTooLarge) return hooks.failed(ex, new GatewayError('body_too_large', { cause: err, headers: { connection: 'close' } }));
  if (call.clientLeft) {
    // The client left; there is nobody to answer.
    hooks.onUpstreamError(route.name, 'aborted');
    return;
  }
  const failure = classifyUpstreamError(err);
  hooks.onUpstreamError(route.name, failure.kind);
  if (failure.beforeSend) route.upstream.eject(target);
  // Retry once on another target when nothing was sent and there is no body to replay.
  if (failure.beforeSend && f.body === null && attempt === 0 && route.upstream.size > 1 && !res.headersSent) {
    send(f, route.upstream.pick(target), attempt + 1);
    return;
  }
  if (res.headersSent) {
    // Mid-body: make the client see a broken message, not a clean end. A FIN would look like the
    // end of a body delimited by the connection's close (an HTTP/1.0 client, nginx's default
    // upstream protocol): reset the connection instead.
    // Over HTTP/2 the socket is shared by other streams: reset this stream only. Only a plain TCP
    // socket can be reset (Node throws ERR_INVALID_HANDLE_TYPE for a TLS one): over HTTPS the
    // connection is destroyed, and the client sees the message end without TLS's close_notify.
    const socket = ex.req.httpVersionMajor === 2 || 'encrypted' in ex.req.socket ? null : (res.socket as (ServerResponse['socket'] & { resetAndDestroy?: () => void }) | null);
    if (socket?.resetAndDestroy) socket.resetAndDestroy();
    else res.destroy(err);
    return;
  }
  hooks.failed(ex, new GatewayError(failure.code, { cause: err }));
}

/**
 * The response closed: if the answer was not complete, the client went away, so the upstream
 * request is aborted. The request handler calls this from its one 'close' listener, rather than
 * the forwarder adding a second listener per request. The call is kept on the exchange, not on the
 * response: a property added to Node's response objects gives them a hidden class of their own,
 * and Node's HTTP and stream functions then see two shapes of response.
 */
export function clientClosed(ex: Pick<ForwardExchange, 'res' | 'upstreamCall'>): void {
  if (!ex.res.writableFinished) ex.upstreamCall?.abortForClient();
}

/**
 * One upstream request, on undici's dispatch API: the upstream's answer is written straight into
 * the client's response, with backpressure (a full client socket pauses the upstream read). This
 * replaces `Pool.stream`, whose per-request AsyncResource, stream `finished()` listeners and abort
 * signal wiring cost more than the proxying itself: with a signal attached, ≈4 KB per request
 * lived long enough to be promoted to V8's old generation (bench/README.md).
 * It ends once: with the answer written whole, or with a failure handed to upstreamFailed.
 */
class UpstreamCall<E extends ForwardExchange> implements Dispatcher.DispatchHandler {
  clientLeft = false;
  private ended = false;
  private controller: Dispatcher.DispatchController | undefined;
  private onDrain: (() => void) | undefined;

  constructor(
    private readonly f: Forwarding<E>,
    private readonly target: UpstreamTarget,
    private readonly attempt: number,
  ) {}

  abortForClient(): void {
    this.clientLeft = true;
    // Before the request reached a connection there is no controller yet: onRequestStart aborts.
    this.controller?.abort(new RequestAbortedError('client went away'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientLeft) controller.abort(new RequestAbortedError('client went away'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx interim answers are the upstream's business; Node answered the client's 100-continue itself.
    if (statusCode < 200) return;
    const ex = this.f.ex;
    ex.upstreamHeadersAt = performance.now();
    const route = this.f.route;
    const out = filterResponseHeaders(headers, route.ownedCookies);
    if (route.responseHeaders) shapeResponse(out, route.responseHeaders);
    out['x-request-id'] = ex.requestId;
    if (route.ownsCors) ownCors(out);
    ex.res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.f.ex.res.write(chunk)) return;
    controller.pause();
    this.onDrain ??= () => this.controller?.resume();
    this.f.ex.res.once('drain', this.onDrain);
  }

  onResponseEnd(): void {
    this.ended = true;
    this.f.ex.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.onDrain) this.f.ex.res.off('drain', this.onDrain);
    if (this.ended) return;
    this.ended = true;
    try {
      upstreamFailed(this.f, this, this.target, this.attempt, err);
    } catch (thrown) {
      // Nothing the gateway does here may reach undici: it would re-emit it as an 'error' on the
      // pool, which nobody listens to, and the process would exit. Break the answer off instead.
      this.f.ex.res.destroy(thrown as Error);
    }
  }
}

/** The route's CORS headers (set on the response by the gateway) win: the upstream's go, its Vary stays with Origin. */
function ownCors(out: Record<string, string | string[] | undefined>): void {
  for (const name of Object.keys(out)) if (name.startsWith('access-control-')) delete out[name];
  const vary = out.vary;
  if (vary === undefined) return;
  const list = Array.isArray(vary) ? vary.join(', ') : vary;
  out.vary = /(^|,)\s*(origin|\*)\s*(,|$)/i.test(list) ? list : `${list}, Origin`;
}

function shapeResponse(out: Record<string, string | string[] | undefined>, shaping: NonNullable<ForwardRoute['responseHeaders']>): void {
  for (const name of shaping.remove) delete out[name];
  for (const [name, value] of shaping.set) out[name] = value;
}
