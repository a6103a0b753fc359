// Watch the routes file for changes. The directory is watched, not the file: editors and
// Kubernetes ConfigMaps replace files by rename, which a watch on the old inode never sees.
// Events are debounced and a reload only happens when the content actually changed.
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
): RoutesWatcher {
  let lastHash = initialHash;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const check = async () => {
    const hash = await contentHash(file);
    if (hash !== undefined && hash !== lastHash) {
      lastHash = hash;
      onChange();
    }
  };
  try {
    watcher = watch(dirname(file), { persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(() => void check(), debounceMs);
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  return {
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
