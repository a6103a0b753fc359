// Not-before times in process (development): the same contract as the Redis store, with the log a
// capped array whose cursor counts writes since start.
import { LOG_LENGTH, mergeNotBefore as merge, type NotBeforeSnapshot, type NotBeforeStore } from '../../revocation/not-before.js';

export class MemoryNotBeforeStore implements NotBeforeStore {
  private readonly map = new Map<string, number>();
  private writes: [sub: string, at: number][] = [];
  /** Writes dropped from the front of `writes`: cursors count from the first write ever. */
  private dropped = 0;
  async set(sub: string, atMs: number): Promise<void> {
    if ((this.map.get(sub) ?? -Infinity) >= atMs) return;
    this.map.set(sub, atMs);
    this.writes.push([sub, atMs]);
    if (this.writes.length > 2 * LOG_LENGTH) {
      this.dropped += this.writes.length - LOG_LENGTH;
      this.writes = this.writes.slice(-LOG_LENGTH);
    }
  }
  async all(): Promise<NotBeforeSnapshot> {
    return { entries: new Map(this.map), cursor: String(this.dropped + this.writes.length) };
  }
  async since(cursor: string): Promise<NotBeforeSnapshot | undefined> {
    const from = Number(cursor) - this.dropped;
    if (from < 0) return undefined;
    const entries = new Map<string, number>();
    for (const [sub, at] of this.writes.slice(from)) merge(entries, sub, at);
    return { entries, cursor: String(this.dropped + this.writes.length) };
  }
  async prune(beforeMs: number): Promise<void> {
    for (const [sub, at] of this.map) if (at < beforeMs) this.map.delete(sub);
  }
}
