// A user's index (u:<sub> for sessions, ru:<sub> for refresh families) is a Redis set written
// before the record it names, in another slot, so no transaction can cover both. A listing that
// finds a member without its record cannot tell a record that has expired from one being written
// at that moment by another instance; pruning the second would hide a live session from "log out
// everywhere" and from the per-user cap. So each member carries its creation time, and a member
// without a record is pruned only once it is older than any creation can take.
//
// Members written before this format (the bare id) read as created at 0: prunable, as before.

/** Longer than a creation's two writes can take, retries and a failover included, and than any clock skew between instances. */
export const CREATION_GRACE_MS = 5 * 60_000;

export function indexMember(id: string, createdAt: number): string {
  return `${Math.floor(createdAt)}:${id}`;
}

export function readIndexMember(member: string): { id: string; createdAt: number } {
  const colon = member.indexOf(':');
  if (colon < 0) return { id: member, createdAt: 0 };
  const createdAt = Number(member.slice(0, colon));
  return { id: member.slice(colon + 1), createdAt: Number.isFinite(createdAt) ? createdAt : 0 };
}

/** Whether a member whose record was not found may leave the index. */
export function danglingSince(createdAt: number, now: number): boolean {
  return now - createdAt > CREATION_GRACE_MS;
}
