// Claims named by dotted paths (`realm_access.roles`, `user.id`): how configuration says where a
// value lives in a token or a stored session record.

export function valueAt(record: unknown, path: string): unknown {
  let v: unknown = record;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}
