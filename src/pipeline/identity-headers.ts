// Identity headers, for backends that cannot verify a JWT (they read REMOTE_USER, X-Forwarded-User):
// per route, headers filled from the principal after the client's values of the same names were
// dropped (every spelling: the header filter judges `X_Forwarded_User` by its `-` spelling). Compiled
// at load. An upstream that trusts them must be reachable only through the gateway
// (docs/configuration.md, "Identity headers").
import type { IdentityHeaderConfig } from '../config/routes-schema.js';
import { compileClaimPath } from '../sessions/claim-path.js';
import type { Stage } from './exchange.js';
import type { Principal } from './principal.js';

type Read = (p: Principal) => unknown;

/** What a header may be filled from: `sub`, `via`, or a dotted claim path. */
function source(from: string): Read {
  if (from === 'sub') return (p) => p.sub;
  if (from === 'via') return (p) => p.via;
  const claim = compileClaimPath(from);
  return (p) => claim(p.claims);
}

// A value passes as it is only when no other value could arrive looking the same: printable ASCII
// without `%` (so an encoded value can never be mistaken for a plain one), without spaces at its
// ends (HTTP trims them), and, in a list, without the separator (so an item cannot add items).
// Anything else is percent-encoded: a claim can never split a header, pose as another user or be
// refused by the HTTP stack.
const PLAIN = /^[\x21-\x24\x26-\x7e](?:[\x20-\x24\x26-\x7e]*[\x21-\x24\x26-\x7e])?$/;
function headerValue(v: string, separator?: string): string {
  return PLAIN.test(v) && (separator === undefined || !v.includes(separator.trim() || separator)) ? v : encodeURIComponent(v);
}

function render(v: unknown, join: string): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : headerValue(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const items = v
      .filter((x): x is string | number => (typeof x === 'string' && x.trim() !== '') || typeof x === 'number')
      .map((x) => headerValue(String(x), join));
    return items.length > 0 ? items.join(join) : undefined;
  }
  return undefined;
}

export function identityHeadersStage(headers: Readonly<Record<string, IdentityHeaderConfig>>): Stage | undefined {
  const compiled = Object.entries(headers).map(([name, cfg]) => {
    const c = typeof cfg === 'string' ? { from: cfg, join: ',' } : { from: cfg.from, join: cfg.join ?? ',' };
    return { name: name.toLowerCase(), read: source(c.from), join: c.join };
  });
  if (compiled.length === 0) return undefined;
  return (ex) => {
    const p = ex.principal;
    if (!p) return;
    // A value the principal lacks is no header at all: never an empty one a backend might read as "anonymous".
    for (const h of compiled) {
      const value = render(h.read(p), h.join);
      if (value !== undefined) ex.upstreamHeaders.push(h.name, value);
    }
  };
}
