// Upgraded connections tied to what authenticated them. A WebSocket outlives the request that
// opened it, so without this a socket keeps working after logout, "log out everywhere", admin
// revocation or the session's expiry. Each proxied socket is registered with its session (or
// bearer token) and closed, with a close frame 1008 (policy violation) to the client and the
// upstream connection ended, when:
// - an invalidation for its session or user arrives on the bus (published by any instance);
// - its session's absolute expiry, or its bearer token's exp, passes;
// - its session has been idle for idleTimeout (WebSocket frames count as activity unless
//   session.websocketIdle is `requests`), re-read from the store first, since HTTP requests on
//   other connections move lastSeenAt too;
// - the store no longer has its session when the sockets are re-checked: after a gap in the
//   invalidation subscription, and on every sweep while the subscription is down.
// A sweep runs once a second while any socket is open, so every deadline holds within a second.
// A socket is registered before the upgrade is sent upstream, not when the upstream answers 101:
// an invalidation that arrives while the upstream is slow to answer ends it then (the client's
// connection is dropped, and the upstream's 101, when it comes, is closed at once).
import type { Duplex } from 'node:stream';
import type { Clock } from '../clock.js';

/** Why a socket was closed: a fixed set, used as a metric label. */
export type CloseReason =
  | 'logout'
  | 'session_deleted'
  | 'session_revoked'
  | 'user_revoked'
  | 'session_expired'
  | 'session_idle'
  | 'session_gone'
  | 'token_expired'
  | 'shutdown'
  /** The upstream refused or failed the upgrade. */
  | 'upstream_failed';

/** What a socket knows of its session: the store's view, refreshed when a deadline nears. */
export interface SocketSession {
  readonly idHash: string;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
}

/** The session store as the sockets need it (sessions/service.ts implements it). */
export interface SocketSessions {
  /** The session as stored now (no cache), or undefined when it is gone or expired. */
  current(idHash: string): Promise<SocketSession | undefined>;
  /** Move the session's idle expiry forward (a touch), returning its new state; undefined when gone. */
  keepAlive(idHash: string): Promise<SocketSession | undefined>;
}

/** The invalidation events the sockets follow (sessions/store.ts's bus). */
export interface SocketInvalidations {
  subscribe(onEvent: (e: { type: 'session'; idHash: string; reason?: string } | { type: 'user'; sub: string; reason?: string }) => void, onGap: () => void): void;
  readonly connected: boolean;
}

export interface LiveSocketSettings {
  readonly idleTimeoutMs: number;
  readonly touchIntervalMs: number;
  /** Whether WebSocket frames keep the session alive (session.websocketIdle: frames). */
  readonly framesAreActivity: boolean;
  /** How often deadlines are checked. */
  readonly sweepMs: number;
}

export interface LiveSocketObserver {
  opened(route: string): void;
  closed(route: string, reason: CloseReason | 'client_closed'): void;
  /** A store call failed during a check: the socket stays open until the next sweep. */
  checkFailed(err: unknown): void;
}

export interface TrackedSocket {
  readonly route: string;
  /** The user, or undefined on a public route (such a socket ends only at shutdown). */
  readonly sub: string | undefined;
  /** The session's hash when a session cookie authenticated the upgrade. */
  readonly session: SocketSession | undefined;
  /** Absolute end: the session's expiresAt or the bearer token's exp (ms). */
  readonly expiresAt: number;
  readonly client: Duplex;
}

/** A registered upgrade: the upstream's socket is attached when it answers 101. */
export interface PendingSocket {
  /** The upstream accepted: start proxying under watch; false (and the upstream closed) when the socket was ended meanwhile. */
  attach(upstream: Duplex): boolean;
  /** The upstream refused or failed before 101. */
  failed(): void;
}

interface Entry extends TrackedSocket {
  session: SocketSession | undefined;
  /** Undefined until the upstream answered 101. */
  upstream: Duplex | undefined;
  lastFrameAt: number;
  /** A store check for this socket is under way. */
  checking: boolean;
}

const EVENT_REASONS: ReadonlySet<string> = new Set(['logout', 'session_deleted', 'user_revoked']);

/** A WebSocket close frame from the server (unmasked, RFC 6455 §5.5.1); `reason` is one of the ASCII CloseReasons. */
export function closeFrame(code: number, reason: string): Buffer {
  // A control frame's payload is at most 125 bytes: the code and 123 bytes of reason.
  const text = Buffer.from(reason, 'ascii').subarray(0, 123);
  return Buffer.concat([Buffer.from([0x88, 2 + text.length, code >> 8, code & 0xff]), text]);
}

const POLICY_VIOLATION = 1008;
const GOING_AWAY = 1001;

export class LiveSockets {
  private readonly entries = new Set<Entry>();
  private readonly bySession = new Map<string, Set<Entry>>();
  private readonly byUser = new Map<string, Set<Entry>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly bus: SocketInvalidations;

  constructor(
    private readonly sessions: SocketSessions,
    bus: SocketInvalidations,
    private readonly clock: Clock,
    private readonly settings: LiveSocketSettings,
    private readonly observe: LiveSocketObserver,
  ) {
    this.bus = bus;
    bus.subscribe(
      (e) => {
        const reason = e.reason !== undefined && EVENT_REASONS.has(e.reason) ? (e.reason as CloseReason) : e.type === 'session' ? 'session_revoked' : 'user_revoked';
        const set = e.type === 'session' ? this.bySession.get(e.idHash) : this.byUser.get(e.sub);
        if (set) for (const entry of [...set]) this.close(entry, reason);
      },
      // Events may have been missed while the subscription was down: ask the store about each session.
      () => void this.recheckAll(),
    );
  }

  get size(): number {
    return this.entries.size;
  }

  /** Register an upgrade before it is sent upstream; undefined when the client has already gone. */
  track(socket: TrackedSocket): PendingSocket | undefined {
    if (socket.client.destroyed) return undefined;
    const entry: Entry = { ...socket, upstream: undefined, lastFrameAt: this.clock.now(), checking: false };
    this.entries.add(entry);
    if (entry.session) addTo(this.bySession, entry.session.idHash, entry);
    if (entry.sub !== undefined) addTo(this.byUser, entry.sub, entry);
    this.observe.opened(entry.route);
    const gone = () => {
      if (!this.untrack(entry)) return;
      this.observe.closed(entry.route, 'client_closed');
      entry.upstream?.destroy();
    };
    entry.client.once('close', gone);
    // Until the upstream answers, nothing reads the client's socket, so its end would go unnoticed
    // (and the entry and the upstream's late 101 kept): read it. A client may send nothing before
    // the handshake completes (RFC 6455 §4.1), so nothing of value is dropped. Node's HTTP server
    // keeps sockets half-open, so the client's end is an 'end', not a 'close'.
    const endedEarly = () => {
      if (entry.upstream) return;
      entry.client.destroy();
    };
    entry.client.once('end', endedEarly);
    entry.client.resume();
    this.timer ??= setInterval(() => void this.sweep(), this.settings.sweepMs);
    this.timer.unref();
    return {
      attach: (upstream) => {
        if (!this.entries.has(entry) || entry.client.destroyed) {
          upstream.destroy();
          return false;
        }
        entry.upstream = upstream;
        upstream.once('close', gone);
        if (this.settings.framesAreActivity) {
          const seen = () => (entry.lastFrameAt = this.clock.now());
          entry.client.on('data', seen);
          upstream.on('data', seen);
        }
        return true;
      },
      failed: () => {
        if (this.untrack(entry)) this.observe.closed(entry.route, 'upstream_failed');
      },
    };
  }

  /** Close every socket (shutdown): close frame 1001 (going away). */
  closeAll(): void {
    for (const entry of [...this.entries]) this.close(entry, 'shutdown', GOING_AWAY);
  }

  /** One pass over every socket's deadlines; exported for tests that drive the clock. */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    const recheck = !this.bus.connected;
    const pending: Promise<void>[] = [];
    for (const entry of this.entries) {
      if (now >= entry.expiresAt) {
        this.close(entry, entry.session ? 'session_expired' : 'token_expired');
        continue;
      }
      const s = entry.session;
      if (!s || entry.checking) continue;
      const idleAt = s.lastSeenAt + this.settings.idleTimeoutMs;
      const keepAlive = this.settings.framesAreActivity && entry.lastFrameAt - s.lastSeenAt >= this.settings.touchIntervalMs;
      if (recheck || keepAlive || now >= idleAt) pending.push(this.check(entry, keepAlive));
    }
    await Promise.all(pending);
  }

  private async recheckAll(): Promise<void> {
    await Promise.all([...this.entries].filter((e) => e.session && !e.checking).map((e) => this.check(e, false)));
  }

  /** Ask the store about one socket's session; close it when gone or idle. */
  private async check(entry: Entry, keepAlive: boolean): Promise<void> {
    const idHash = (entry.session as SocketSession).idHash;
    entry.checking = true;
    try {
      const fresh = keepAlive ? await this.sessions.keepAlive(idHash) : await this.sessions.current(idHash);
      if (!this.entries.has(entry)) return;
      if (!fresh) {
        // The store answers the same for a session gone idle as for one revoked while events were missed.
        const idle = this.clock.now() >= (entry.session as SocketSession).lastSeenAt + this.settings.idleTimeoutMs;
        this.close(entry, idle ? 'session_idle' : 'session_gone');
        return;
      }
      entry.session = fresh;
      if (this.clock.now() >= fresh.lastSeenAt + this.settings.idleTimeoutMs) this.close(entry, 'session_idle');
    } catch (err) {
      // Fail closed would end every socket on a Redis blip; the next sweep asks again, and the
      // absolute deadline needs no store.
      this.observe.checkFailed(err);
    } finally {
      entry.checking = false;
    }
  }

  private untrack(entry: Entry): boolean {
    if (!this.entries.delete(entry)) return false;
    if (entry.session) removeFrom(this.bySession, entry.session.idHash, entry);
    if (entry.sub !== undefined) removeFrom(this.byUser, entry.sub, entry);
    if (this.entries.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    return true;
  }

  private close(entry: Entry, reason: CloseReason, code = POLICY_VIOLATION): void {
    if (!this.untrack(entry)) return;
    this.observe.closed(entry.route, reason);
    const { client, upstream } = entry;
    if (!upstream) {
      // Not upgraded yet: there is no WebSocket to close, only a connection to drop; the upstream's
      // 101, if it still comes, is closed by attach().
      client.destroy();
      return;
    }
    // Stop the upstream's bytes first, so the close frame does not land inside one of its frames
    // (a frame cut mid-way can still happen: the client then sees the connection end, 1006).
    upstream.unpipe(client);
    client.unpipe(upstream);
    upstream.destroy();
    if (client.writable) client.end(closeFrame(code, reason));
    // A client that never acknowledges the close must not keep the socket.
    setTimeout(() => client.destroy(), 1000).unref();
  }
}

function addTo(map: Map<string, Set<Entry>>, key: string, entry: Entry): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(entry);
}

function removeFrom(map: Map<string, Set<Entry>>, key: string, entry: Entry): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(entry);
  if (set.size === 0) map.delete(key);
}
