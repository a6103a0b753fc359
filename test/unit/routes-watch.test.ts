// The routes watcher reloads once per settled change: events that keep arriving while a check waits
// for the file to settle do not start a second, overlapping check that would reload again.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentHash, watchRoutesFile } from '../../src/config/watch.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('routes watcher', () => {
  it('reloads once for one change, however many events arrive while it settles', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-watch-'));
    const file = join(dir, 'routes.yaml');
    await writeFile(file, 'routes: []\n');
    let reloads = 0;
    const watcher = watchRoutesFile(file, await contentHash(file), () => reloads++, 20, 150);
    try {
      await writeFile(file, 'routes: [] # changed\n');
      // Other files in the directory change meanwhile (an editor's swap file, a ConfigMap's symlinks).
      for (let i = 0; i < 6; i++) {
        await sleep(30);
        await writeFile(join(dir, `.swap${i}`), 'x');
      }
      await sleep(600);
      expect(reloads).toBe(1);
      await writeFile(file, 'routes: [] # changed again\n');
      await sleep(600);
      expect(reloads).toBe(2);
    } finally {
      watcher.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
