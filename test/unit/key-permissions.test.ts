// A private signing key file readable by group or others is warned about at load (anyone on the
// host who can read it can mint internal tokens); a 0600 file, as `gateway keygen` writes, is not.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeKey } from '../../src/keys/keygen.js';
import { loadKeySet } from '../../src/keys/keyset.js';

describe('private key file permissions', () => {
  it('warns about a key readable by others, not about one only its owner reads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-keys-'));
    try {
      const { file } = await writeKey(dir, 'ES256');
      const warnings: string[] = [];
      const load = () => loadKeySet({ dir, algorithm: 'ES256', generateDevKey: false, warn: (msg) => warnings.push(msg) });
      await load();
      expect(warnings).toEqual([]);
      await chmod(file, 0o644);
      await load();
      expect(warnings).toEqual([expect.stringContaining('readable by group or others')]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
