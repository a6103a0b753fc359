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

/** A reader for one path, split once at load: reading allocates nothing (the per-request policy path). */
export function compileClaimPath(path: string): (record: unknown) => unknown {
  const parts = path.split('.');
  if (parts.length === 1) {
    const key = parts[0] as string;
    return (record) => (typeof record === 'object' && record !== null && Object.hasOwn(record, key) ? (record as Record<string, unknown>)[key] : undefined);
  }
  return (record) => {
    let v: unknown = record;
    for (const part of parts) {
      if (typeof v !== 'object' || v === null || !Object.hasOwn(v, part)) return undefined;
      v = (v as Record<string, unknown>)[part];
    }
    return v;
  };
}
