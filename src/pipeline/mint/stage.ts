// The mint stage: the internal token goes upstream in the route's header (Authorization: Bearer by
// default). The client's value of that header was already dropped by the header filter.
import type { Stage } from '../exchange.js';
import { mintScope, type TokenMinter } from './minter.js';

export function mintStage(minter: TokenMinter, audience: string, header: string, claims: readonly string[]): Stage {
  const scope = mintScope(audience, claims);
  const bearer = header === 'authorization';
  return async (ex) => {
    if (!ex.principal) return;
    const token = await minter.token(ex.principal, scope);
    ex.upstreamHeaders.push(header, bearer ? `Bearer ${token}` : token);
  };
}
