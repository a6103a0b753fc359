import type { InvalidationBus, InvalidationEvent } from '../../sessions/store.js';
import type { RedisClient } from './client.js';

/**
 * Invalidations over Redis pub/sub. `connected` is false from the moment the subscriber connection
 * drops until it is subscribed again; at that point `onGap` runs, because anything published in
 * between was missed.
 *
 * A server that freezes (SIGSTOP, a hung VM, a master Sentinel has failed over from) keeps the TCP
 * connection open and sends nothing: no event says the subscription is dead, and invalidations
 * published on the new master would be missed while the session cache kept serving. So the
 * subscriber is pinged every `heartbeatMs`; no answer within that time counts as down (the cache is
 * bypassed) and the connection is dropped for ioredis to make again, to whatever is master now.
 */
export class RedisBus implements InvalidationBus {
  private up = false;
  private readonly channel: string;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    prefix: string,
    private readonly heartbeatMs = 1000,
  ) {
    this.channel = `${prefix}invalidate`;
  }

  get connected(): boolean {
    return this.up;
  }

  async publish(event: InvalidationEvent): Promise<void> {
    await this.publisher.publish(this.channel, JSON.stringify(event));
  }

  private readonly handlers: { onEvent: (e: InvalidationEvent) => void; onGap: () => void }[] = [];

  subscribe(onEvent: (e: InvalidationEvent) => void, onGap: () => void): void {
    this.handlers.push({ onEvent, onGap });
    if (this.handlers.length === 1) this.listen();
  }

  private listen(): void {
    const down = () => {
      this.up = false;
    };
    this.subscriber.on('close', down);
    this.subscriber.on('end', down);
    this.subscriber.on('reconnecting', down);
    this.subscriber.on('error', () => undefined);
    // 'ready' comes before ioredis re-subscribes on its own, so subscribe explicitly and count
    // the bus as up only once the subscription is confirmed; then tell every handler about the gap.
    const attach = () =>
      this.subscriber.subscribe(this.channel).then(() => {
        for (const h of this.handlers) h.onGap();
        this.up = true;
      }, down);
    this.subscriber.on('ready', () => void attach());
    if (this.subscriber.status === 'ready') void attach();
    let pinging = false;
    this.heartbeat = setInterval(() => {
      if (!this.up || pinging) return;
      pinging = true;
      let answered = false;
      const timer = setTimeout(() => {
        if (answered) return;
        down();
        // Made again by ioredis (reconnecting → ready → attach → onGap).
        this.subscriber.disconnect(true);
      }, this.heartbeatMs);
      this.subscriber.ping().then(
        () => (answered = true),
        () => undefined,
      ).finally(() => {
        clearTimeout(timer);
        pinging = false;
      });
    }, this.heartbeatMs);
    this.heartbeat.unref();
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      let e: InvalidationEvent;
      try {
        e = JSON.parse(message) as InvalidationEvent;
      } catch {
        return;
      }
      // Anyone who can PUBLISH in Redis can send anything: `null` or a number must be ignored, never throw here.
      if (typeof e !== 'object' || e === null) return;
      if ((e.type === 'session' && typeof e.idHash === 'string') || (e.type === 'user' && typeof e.sub === 'string')) {
        for (const h of this.handlers) h.onEvent(e);
      }
    });
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.up = false;
    this.subscriber.disconnect();
  }
}
