// Invalidations within one process: every subscriber hears every event at once, and the bus is never down.
import type { InvalidationBus, InvalidationEvent } from '../../sessions/store.js';

export class MemoryBus implements InvalidationBus {
  private readonly handlers: ((e: InvalidationEvent) => void)[] = [];
  readonly connected = true;

  async publish(event: InvalidationEvent): Promise<void> {
    for (const h of this.handlers) h(event);
  }

  subscribe(onEvent: (e: InvalidationEvent) => void): void {
    this.handlers.push(onEvent);
  }

  async close(): Promise<void> {}
}
