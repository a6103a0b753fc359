// Header names the gateway treats specially, as data: the schema validates settings against them
// and forward/headers.ts compiles them into each route's header policy.

/**
 * Headers a client could use to claim an identity; stripped from every request before forwarding.
 * An entry ending in `*` strips every name with that prefix. The list covers the conventions of
 * oauth2-proxy, Pomerium, Authelia, Kong, Cloudflare Access, AWS ALB, Azure App Service, Google IAP,
 * Envoy (client certificates) and the usual home-grown `X-User...` and `Remote-User` spellings.
 */
export const DEFAULT_IDENTITY_HEADERS = [
  'x-user*',
  'x-remote-*',
  'remote-user',
  'remote-groups',
  'remote-email',
  'remote-name',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-forwarded-preferred-username',
  'x-forwarded-access-token',
  'x-forwarded-client-cert',
  'x-auth-request-*',
  'x-auth-user*',
  'x-authenticated-*',
  'x-consumer-*',
  'x-credential-*',
  'x-webauth-*',
  'x-pomerium-*',
  'x-amzn-oidc-*',
  'x-ms-client-principal*',
  'x-goog-authenticated-user-*',
  'x-goog-iap-jwt-assertion',
  'cf-access-*',
  'x-ssl-client-*',
  'x-client-cert*',
  'x-client-dn',
  'ssl-client-*',
  'x-id-token',
  'x-access-token',
  'x-email',
  'x-roles',
  'x-groups',
  'x-proxy-user',
  'impersonate-*',
  'auth-user',
  'remote-user*',
  'x-gateway-*',
];

/**
 * Client-address headers that CDNs and load balancers set and that legacy code believes for
 * address allow-lists and audit logs (PHP's classic "real IP" reads HTTP_CLIENT_IP first). The
 * gateway sets X-Forwarded-For itself; these are always dropped from clients, and
 * `trustedProxyHeaders` may keep one from a trusted proxy (a CDN's CF-Connecting-IP, say).
 */
export const CLIENT_ADDRESS_HEADERS = [
  'client-ip',
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-originating-ip',
  'x-forwarded',
  'forwarded-for',
  'x-forwarded-for-original',
] as const;

/**
 * Headers that make frameworks act on another path, host or method than the one the gateway
 * routed and authorized: IIS URL Rewrite and Symfony (`X-Original-URL`, `X-Rewrite-URL`), Envoy,
 * Spring and Traefik prefixes and URIs, Express method-override, Symfony/Laravel/ASP.NET method
 * overrides, and scheme hints that Rack, Django and Spring believe. Always dropped from clients;
 * `trustedProxyHeaders` may keep some when the peer is a trusted proxy.
 */
export const ROUTING_HEADERS = [
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-forwarded-uri',
  'x-forwarded-url',
  'x-forwarded-path',
  'x-forwarded-prefix',
  'x-forwarded-method',
  'x-original-method',
  'x-original-host',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-url-scheme',
  'front-end-https',
  'x-envoy-original-path',
  'x-envoy-original-host',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-http-destinationurl',
  'x-host',
] as const;
