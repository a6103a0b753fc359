// Every configuration key is documented: a key added to a schema without a line in docs/ fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { routesSchema } from '../../src/config/routes-schema.js';
import { gatewaySchema } from '../../src/config/schema.js';

interface Def {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  options?: unknown[];
}

/** Dotted key paths of a zod schema; array items as `[]`. */
function keyPaths(schema: unknown, prefix = ''): string[] {
  const def = (schema as { _zod?: { def: Def } })._zod?.def;
  if (!def) return [];
  switch (def.type) {
    case 'default':
    case 'optional':
    case 'nullable':
    case 'prefault':
      return keyPaths(def.innerType, prefix);
    case 'pipe':
      return keyPaths(def.in, prefix);
    case 'array':
      return keyPaths(def.element, `${prefix}[]`);
    case 'object': {
      const out: string[] = [];
      for (const [k, v] of Object.entries(def.shape ?? {})) {
        const path = prefix ? `${prefix}.${k}` : k;
        out.push(path, ...keyPaths(v, path));
      }
      return out;
    }
    default:
      return [];
  }
}

const docs = ['docs/configuration.md', 'docs/bearer.md', 'docs/sessions.md'].map((f) => readFileSync(f, 'utf8')).join('\n');

/**
 * Documented when the path (or its parent, for the keys of a small mapping documented as a whole)
 * is named in backticks, with or without `[]` for list items, or the key is a line of a YAML example.
 */
function documented(path: string): boolean {
  const parts = path.split('.');
  for (let i = parts.length; i >= Math.max(1, parts.length - 1); i--) {
    const p = parts.slice(0, i).join('.');
    for (const form of [p, p.replace(/\[\]/g, '')]) if (docs.includes(`\`${form}\``) || docs.includes(`\`${form}.`)) return true;
  }
  return new RegExp(`^\\s*-?\\s*${parts[parts.length - 1]?.replace('[]', '')}:`, 'm').test(docs);
}

describe('configuration docs', () => {
  it('name every key of gateway.yaml', () => {
    expect(keyPaths(gatewaySchema).filter((p) => !documented(p))).toEqual([]);
  });

  it('name every key of routes.yaml', () => {
    expect(keyPaths(routesSchema).map((p) => p.replace(/^routes\[\]\.?/, '')).filter((p) => p && !documented(p))).toEqual([]);
  });
});

describe('the key rotation guide', () => {
  it('waits as long as the JWKS may be cached and as long as the gateway-signed tokens live', async () => {
    const { JWKS_MAX_AGE_S } = await import('../../src/endpoints/jwks.js');
    const guide = readFileSync(new URL('../../docs/sessions.md', import.meta.url), 'utf8');
    const steps = guide.slice(guide.indexOf('Rotation without a failed verification'), guide.indexOf('## express-session mode'));
    expect(steps).toContain(`max-age=${JWKS_MAX_AGE_S}`);
    expect(steps).toContain(`**${JWKS_MAX_AGE_S / 60} minutes**`);
    const defaults = gatewaySchema.parse({});
    expect(steps).toContain(`\`tokens.ttl\` (internal tokens, default ${defaults.tokens.ttl / 1000} s)`);
    expect(steps).toContain(`\`accessTokens.ttl\` (the gateway's access\n   tokens, default ${defaults.accessTokens.ttl / 60_000} minutes`);
  });
});
