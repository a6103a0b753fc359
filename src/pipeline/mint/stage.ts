// The mint stage: the internal token goes upstream in the route's header (Authorization: Bearer by
// default). The client's value of that header was already dropped by the header filter.
import type { Exchange, Stage } from '../exchange.js';
import { mintScope, type TokenMinter } from './minter.js';

export function mintStage(minter: TokenMinter, audience: string, header: string, claims: readonly string[]): Stage {
  const scope = mintScope(audience, claims);
  const bearer = header === 'authorization';
  const add = (ex: Exchange, token: string): void => {
    ex.upstreamHeaders.push(header, bearer ? `Bearer ${token}` : token);
  };
  return (ex) => {
    if (!ex.principal) return;
    // A reused token is added at once; a new signature is waited for.
    const token = minter.token(ex.principal, scope);
    if (typeof token === 'string') return add(ex, token);
    return token.then((t) => add(ex, t));
  };
}
