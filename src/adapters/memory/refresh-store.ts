// Refresh-token families in process (development), by the same rules as the Redis script
// (refresh/store.ts); test/contract/refresh-store.test.ts runs both.
import { live, type Family, type RefreshStore, type RotateResult } from '../../refresh/store.js';

interface MemFamily extends Family {
  current: string;
  lastUsedAt: number;
  revoked: boolean;
  tokens: Map<string, { usedAt?: number; successor?: string; payload?: string }>;
}

/** The same rules in process (development store); single-threaded, so each call is atomic. */
export class MemoryRefreshStore implements RefreshStore {
  private readonly families = new Map<string, MemFamily>();

  async create(f: Family, tokenHash: string): Promise<void> {
    this.families.set(f.familyId, { ...f, current: tokenHash, lastUsedAt: f.createdAt, revoked: false, tokens: new Map([[tokenHash, {}]]) });
  }

  async family(familyId: string): Promise<Pick<Family, 'sub' | 'claims'> | undefined> {
    const f = this.families.get(familyId);
    return f && !f.revoked ? f : undefined;
  }

  async rotate(familyId: string, oldHash: string, newHash: string, payload: string, now: number, graceMs: number, idleMs: number): Promise<RotateResult> {
    const f = this.families.get(familyId);
    if (!f || f.revoked || now >= f.expiresAt || now - f.lastUsedAt >= idleMs) return { kind: 'invalid' };
    const tok = f.tokens.get(oldHash);
    // A used token is forgotten an idle window after its use, as its key expires in Redis.
    if (!tok || (tok.usedAt !== undefined && now - tok.usedAt >= idleMs)) return { kind: 'invalid' };
    if (tok.usedAt === undefined) {
      if (f.current !== oldHash) {
        f.revoked = true;
        return { kind: 'reuse', sub: f.sub };
      }
      // Only the immediate predecessor can be retried: older answers are dropped, as Redis expires them.
      for (const t of f.tokens.values()) delete t.payload;
      Object.assign(tok, { usedAt: now, successor: newHash, payload });
      f.tokens.set(newHash, {});
      f.current = newHash;
      f.lastUsedAt = now;
      return { kind: 'rotated' };
    }
    if (now - tok.usedAt <= graceMs && f.current === tok.successor) return { kind: 'grace', payload: tok.payload as string };
    f.revoked = true;
    return { kind: 'reuse', sub: f.sub };
  }

  async trimUser(sub: string, max: number, now: number, idleMs: number): Promise<number> {
    // Ended families go, as their keys expire in Redis: a long-running development gateway stays small.
    for (const [id, f] of this.families) if (f.sub === sub && !live(f, now, idleMs)) this.families.delete(id);
    const alive = [...this.families.values()].filter((f) => f.sub === sub && live(f, now, idleMs)).sort((a, b) => b.createdAt - a.createdAt);
    for (const f of alive.slice(max)) f.revoked = true;
    return Math.max(0, alive.length - max);
  }

  async revokeUser(sub: string): Promise<number> {
    let n = 0;
    for (const f of this.families.values()) {
      if (f.sub === sub && !f.revoked) {
        f.revoked = true;
        n++;
      }
    }
    return n;
  }
}
