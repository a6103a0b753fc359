// GET /auth/login: the sign-in page. The identity providers to choose from (plain links: the CSP's
// form-action would also govern a form's redirect to the provider), the password form when it is on,
// and a message picked by a fixed word from the query: free text from a URL is never shown.
import { documentHtml, escapeHtml, type PageTheme } from './html.js';

/** The messages the page can show, by the `error=` word that asks for each. */
export const SIGN_IN_MESSAGES = {
  invalid_credentials: 'Those credentials were not accepted. Check your username and password, then try again.',
  rate_limited: 'Too many sign-in attempts. Wait a few minutes, then try again.',
  provider_error: 'The identity provider refused or could not complete the sign-in. Try again, or choose another way to sign in.',
  unavailable: 'Sign-in is unavailable right now. Try again in a few minutes.',
  signed_out: 'You have signed out.',
} as const;

export type SignInMessage = keyof typeof SIGN_IN_MESSAGES;

/** `error=<word>` from the fixed list, or the older `failed=1`; anything else shows nothing. */
export function signInMessage(params: URLSearchParams): SignInMessage | undefined {
  const word = params.get('error');
  if (word !== null && Object.hasOwn(SIGN_IN_MESSAGES, word)) return word as SignInMessage;
  return params.get('failed') === '1' ? 'invalid_credentials' : undefined;
}

export interface SignInProvider {
  /** The provider's key under login.oidc: part of its start URL. */
  readonly name: string;
  /** What the button says. */
  readonly label: string;
}

export interface SignInView {
  readonly theme: PageTheme;
  readonly stylesheetPath: string;
  readonly providers: readonly SignInProvider[];
  /** Offer the password form (login.password). */
  readonly password: boolean;
  /** Where to go after signing in (already checked as a safe redirect). */
  readonly returnTo: string;
  readonly message: SignInMessage | undefined;
}

/** The start of a provider's sign-in, carrying the return path. */
export function providerStartUrl(name: string, returnTo: string): string {
  return `/auth/oidc/${encodeURIComponent(name)}/start?return=${encodeURIComponent(returnTo)}`;
}

function messageHtml(message: SignInMessage | undefined): string {
  if (message === undefined) return '';
  // Signing out is news, not a problem: announced politely, not as an alert.
  const role = message === 'signed_out' ? 'status' : 'alert';
  return `<p id="message" class="message${message === 'signed_out' ? ' info' : ''}" role="${role}">${escapeHtml(SIGN_IN_MESSAGES[message])}</p>`;
}

function providersHtml(providers: readonly SignInProvider[], returnTo: string): string {
  if (providers.length === 0) return '';
  const items = providers.map(
    (p) => `<li><a class="button block" href="${escapeHtml(providerStartUrl(p.name, returnTo))}">Sign in with ${escapeHtml(p.label)}</a></li>`,
  );
  return `<ul class="providers">\n${items.join('\n')}\n</ul>`;
}

function passwordFormHtml(returnTo: string, message: SignInMessage | undefined): string {
  // A refused password points the fields at the message, so a screen reader reads it with them.
  const described = message === 'invalid_credentials' ? ' aria-describedby="message" aria-invalid="true"' : '';
  return `<form method="post" action="/auth/login">
<input type="hidden" name="redirect" value="${escapeHtml(returnTo)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required${described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${described}>
<button class="block" type="submit">Sign in</button>
</form>`;
}

export function renderSignIn(view: SignInView): string {
  const parts = [providersHtml(view.providers, view.returnTo)];
  if (view.providers.length > 0 && view.password) parts.push('<p class="divider">or</p>');
  if (view.password) parts.push(passwordFormHtml(view.returnTo, view.message));
  if (view.providers.length === 0 && !view.password) parts.push('<p>No way to sign in is configured here. Contact the people who run this service.</p>');
  const main = `<h1>Sign in</h1>
${messageHtml(view.message)}
<div class="card">
${parts.filter(Boolean).join('\n')}
</div>`;
  return documentHtml(view.theme, view.stylesheetPath, { title: 'Sign in', main });
}
