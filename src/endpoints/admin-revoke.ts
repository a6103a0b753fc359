// POST /admin/users/{sub}/revoke on the admin listener: the user's sessions, refresh families and
// access tokens end on every instance (revocation/revoke-user.ts). The sub is the path segment,
// percent-decoded; the admin guard has already checked the credential.
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RevokeUser } from '../revocation/revoke-user.js';
import { sendJson } from '../http/json-response.js';
import type { AdminLookup } from './admin.js';

const ADMIN_REVOKE = /^\/admin\/users\/([^/]{1,256})\/revoke$/;

export function adminRevokeEndpoint(revokeUser: RevokeUser, logger: Logger): AdminLookup {
  return (method, path) => {
    const m = method === 'POST' ? ADMIN_REVOKE.exec(path) : null;
    if (!m) return undefined;
    return async (_req, res) => {
      let sub: string;
      try {
        sub = decodeURIComponent(m[1] as string);
      } catch {
        throw new GatewayError('invalid_body', { detail: 'bad user id' });
      }
      const revoked = await revokeUser(sub, 'user_revoked');
      logger.info({ sub, revoked }, 'user revoked by admin');
      sendJson(res, 200, { sub, revoked });
    };
  };
}
