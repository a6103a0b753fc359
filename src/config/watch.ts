// Watch the routes file for changes. The directory is watched, not the file: editors and
// Kubernetes ConfigMaps replace files by rename, which a watch on the old inode never sees.
// Events are debounced, and a reload only happens when the content changed and then read the same
// again `stableMs` later: a file caught half-written in place (a tool streaming it, an editor
// without atomic save) is never applied, its next read differs. Writing by rename is still the
// way to update it (docs/configuration.md).
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface RoutesWatcher {
  close(): void;
}

export async function contentHash(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await readFile(file)).digest('hex');
  } catch {
    return undefined;
  }
}

export function watchRoutesFile(
  file: string,
  initialHash: string | undefined,
  onChange: () => void,
  debounceMs = 150,
  stableMs = 250,
): RoutesWatcher {
  let lastHash = initialHash;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  // One check at a time: two overlapping ones would both see the change and reload twice. An event
  // during a check asks for another after it.
  let running = false;
  let again = false;
  let closed = false;
  const schedule = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => void check(), ms);
  };
  const settled = async (): Promise<string | undefined> => {
    const hash = await contentHash(file);
    if (hash === undefined || hash === lastHash) return undefined;
    await new Promise((r) => setTimeout(r, stableMs));
    // Still being written: look again once it has settled.
    if ((await contentHash(file)) !== hash) {
      again = true;
      return undefined;
    }
    return hash;
  };
  const check = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const hash = await settled();
      if (hash !== undefined && !closed) {
        lastHash = hash;
        onChange();
      }
    } finally {
      running = false;
      if (again && !closed) {
        again = false;
        schedule(debounceMs);
      }
    }
  };
  try {
    watcher = watch(dirname(file), { persistent: false }, () => schedule(debounceMs));
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
