// What every page of the gateway shares: escaping, the document around a page's main content, and
// the headers it is sent with. Pages carry no script and no inline style, so the CSP can forbid both.
import type { ServerResponse } from 'node:http';

/** Escapes text for element content and double-quoted attribute values alike. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What the pages show of the product (gateway.yaml `pages`). */
export interface PageTheme {
  readonly productName: string;
  readonly logoUrl?: string | undefined;
}

/** Only an https:// URL or a same-site path may be a logo (the schema says the same; checked again here). */
const LOGO = /^(?:https:\/\/|\/(?!\/))[^\s"'<>]*$/;

export const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The CSP of a page whose form may end in a redirect to other origins: browsers apply form-action
 * to every redirect after a submission, so the sign-in form's allowed `redirect` origins are added.
 */
export function pageCsp(formTargets: Iterable<string> = []): string {
  // Origins from URL.origin: scheme, host and port only, nothing that could end a directive.
  const extra = [...formTargets].filter((o) => /^https?:\/\/[A-Za-z0-9.[\]:-]+$/.test(o));
  return extra.length === 0 ? PAGE_CSP : PAGE_CSP.replace("form-action 'self'", `form-action 'self' ${extra.join(' ')}`);
}

/** One page: its title, its main content (already escaped HTML) and whether it needs the wide column. */
export interface PageContent {
  readonly title: string;
  readonly main: string;
  readonly wide?: boolean;
}

export function documentHtml(theme: PageTheme, stylesheetPath: string, page: PageContent): string {
  const logo = theme.logoUrl && LOGO.test(theme.logoUrl) ? `<img class="logo" src="${escapeHtml(theme.logoUrl)}" alt="">` : '';
  // The product name is in the header as text, so the logo is decorative (empty alt).
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(page.title)} · ${escapeHtml(theme.productName)}</title>
<link rel="stylesheet" href="${escapeHtml(stylesheetPath)}">
</head>
<body${page.wide ? ' class="wide"' : ''}>
<header class="product">${logo}<span class="product-name">${escapeHtml(theme.productName)}</span></header>
<main>
${page.main}
</main>
</body>
</html>
`;
}

/**
 * A page: never cached (it carries personal data or a one-time message), never framed. Referrers
 * stay on this site: `no-referrer` would make browsers send `Origin: null` on the pages' own form
 * posts, which the same-origin check refuses.
 */
export function sendHtml(res: ServerResponse, status: number, body: string, csp: string = PAGE_CSP): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'content-security-policy': csp,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  });
  res.end(body);
}
