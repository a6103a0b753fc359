// `require` of a route in routes.yaml: who may pass once authenticated. Every key given must hold
// (they are ANDed); `any` and `all` combine whole policies. Compiled at load (pipeline/authz/policy.ts).
import { z } from 'zod';

/** A dotted claim path: `email`, `realm_access.roles`, `org.tenant`. */
const CLAIM_PATH = /^[A-Za-z0-9_$:@-]+(?:\.[A-Za-z0-9_$:@-]+)*$/;

const scalar = z.union([z.string().min(1), z.number(), z.boolean()]);

/**
 * A condition on one claim. A bare value: equal (a list claim: contains it). `anyOf`: equal to one of
 * them (a list claim: contains one). `allOf`: a list claim containing every one. `endsWith`: a string
 * claim ending so (`"@example.com"` for an email domain).
 */
export const claimCondition = z.union([
  scalar,
  z.strictObject({ anyOf: z.array(scalar).min(1) }),
  z.strictObject({ allOf: z.array(scalar).min(1) }),
  z.strictObject({ endsWith: z.string().min(1) }),
]);

export interface PolicyConfig {
  roles?: string[] | undefined;
  claims?: Record<string, z.infer<typeof claimCondition>> | undefined;
  scopes?: string[] | undefined;
  via?: ('session' | 'bearer')[] | undefined;
  issuers?: string[] | undefined;
  acr?: string[] | undefined;
  clientCert?: { subjects?: string[] | undefined; fingerprints?: string[] | undefined } | undefined;
  any?: PolicyConfig[] | undefined;
  all?: PolicyConfig[] | undefined;
}

const names = z.array(z.string().min(1)).min(1);

export const policySchema: z.ZodType<PolicyConfig> = z.lazy(() =>
  z
    .strictObject({
      /** Any of these in the `roles` claim (a list or one string). */
      roles: names.optional(),
      /** Every claim condition holds. */
      claims: z
        .record(z.string(), claimCondition)
        // An empty map is no condition: inside `any` it would let everyone in.
        .refine((claims) => Object.keys(claims).length > 0, 'names no claim')
        .superRefine((claims, ctx) => {
          for (const path of Object.keys(claims)) {
            if (!CLAIM_PATH.test(path)) ctx.addIssue({ code: 'custom', path: [path], message: 'must be a dotted claim path such as email or realm_access.roles' });
          }
        })
        .optional(),
      /** Every one of these in the token's `scope` (space-separated) or `scp` (list). */
      scopes: names.optional(),
      /** How the caller authenticated: any of session, bearer. */
      via: z.array(z.enum(['session', 'bearer'])).min(1).optional(),
      /** Who vouched for the caller: any of these issuers (`iss` of an external token, or the OpenID Connect provider a session signed in with), or `gateway` (its password sessions and access tokens). */
      issuers: names.optional(),
      /** Any of these authentication context classes (`acr`), as the sign-in or the issuer supplies it. */
      acr: names.optional(),
      /** A verified client certificate on the connection (listen.tls.clientCertificates): its CN among subjects, its SHA-256 (hex) among fingerprints. */
      clientCert: z
        .strictObject({ subjects: names.optional(), fingerprints: z.array(z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a SHA-256 fingerprint in hex')).min(1).optional() })
        .refine((c) => c.subjects !== undefined || c.fingerprints !== undefined, 'names no subject or fingerprint')
        .optional(),
      /** At least one of these policies. */
      any: z.array(policySchema).min(1).optional(),
      /** Every one of these policies. */
      all: z.array(policySchema).min(1).optional(),
    })
    .refine((p) => Object.values(p).some((v) => v !== undefined), 'names no condition (an empty policy would let everyone in)'),
);
