// GET /auth/devices: every live session of the signed-in user, this one marked, each other one with
// its own sign-out button, and sign-out everywhere else / everywhere. Each button is a small POST
// form carrying the session's CSRF token; times are written here, in UTC, with how long ago.
import { documentHtml, escapeHtml, type PageTheme } from './html.js';
import { describeUserAgent } from './user-agent.js';

export interface DeviceSession {
  readonly handle: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly clientIp: string;
  readonly userAgent: string;
  readonly current: boolean;
}

/** The confirmations after an action, by the `done=` word that asks for each. */
export const DEVICES_MESSAGES = {
  session: 'That device was signed out.',
  others: 'Every other device was signed out.',
} as const;

export type DevicesMessage = keyof typeof DEVICES_MESSAGES;

export function devicesMessage(params: URLSearchParams): DevicesMessage | undefined {
  const word = params.get('done');
  return word !== null && Object.hasOwn(DEVICES_MESSAGES, word) ? (word as DevicesMessage) : undefined;
}

export interface DevicesView {
  readonly theme: PageTheme;
  readonly stylesheetPath: string;
  /** Who is signed in, as the person knows themself (email, name or subject). */
  readonly who: string;
  readonly sessions: readonly DeviceSession[];
  /** The session's CSRF token, put in every form. */
  readonly csrfToken: string;
  readonly now: number;
  readonly message: DevicesMessage | undefined;
}

/** `2025-03-01 14:05 UTC` */
export function utcText(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** `just now`, `1 minute ago`, `3 hours ago`, `2 days ago` (a time ahead of `now`, from another instance's clock, is just now). */
export function relativeTime(ms: number, now: number): string {
  const seconds = Math.floor((now - ms) / 1000);
  for (const [unit, size] of [['day', 86_400], ['hour', 3600], ['minute', 60]] as const) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
    }
  }
  return 'just now';
}

function timeHtml(ms: number, now: number): string {
  return `<time datetime="${new Date(ms).toISOString()}">${utcText(ms)}</time> (${relativeTime(ms, now)})`;
}

function postForm(action: string, csrfToken: string, button: string, extra = ''): string {
  return `<form method="post" action="${action}">
<input type="hidden" name="csrf" value="${escapeHtml(csrfToken)}">${extra}
${button}
</form>`;
}

function sessionHtml(s: DeviceSession, view: DevicesView): string {
  const device = describeUserAgent(s.userAgent);
  const lastSeen = relativeTime(s.lastSeenAt, view.now);
  // The button says "Sign out"; a screen reader also hears which device it ends.
  const signOut = s.current
    ? ''
    : postForm(
        '/auth/devices/sign-out',
        view.csrfToken,
        `<button type="submit" class="secondary">Sign out<span class="visually-hidden"> ${escapeHtml(device.title)}, last seen ${lastSeen}</span></button>`,
        `\n<input type="hidden" name="session" value="${escapeHtml(s.handle)}">`,
      );
  return `<li class="card session${s.current ? ' current' : ''}">
<div class="session-head"><h2>${escapeHtml(device.title)}</h2>${s.current ? '<span class="badge">This device</span>' : ''}</div>
<dl class="facts">
<dt>Device</dt><dd>${escapeHtml(device.kind)}</dd>
<dt>Address</dt><dd>${escapeHtml(s.clientIp || 'unknown')}</dd>
<dt>Signed in</dt><dd>${timeHtml(s.createdAt, view.now)}</dd>
<dt>Last seen</dt><dd>${timeHtml(s.lastSeenAt, view.now)}</dd>
</dl>
${signOut}
</li>`;
}

export function renderDevices(view: DevicesView): string {
  // This device first, then the most recently used.
  const sessions = [...view.sessions].sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt - a.lastSeenAt);
  const others = sessions.some((s) => !s.current);
  const message = view.message ? `<p class="message info" role="status">${escapeHtml(DEVICES_MESSAGES[view.message])}</p>\n` : '';
  const count = sessions.length === 1 ? 'one device' : `${sessions.length} devices`;
  const main = `<h1>Your devices</h1>
${message}<p>Signed in as <strong>${escapeHtml(view.who)}</strong> on ${count}. If you do not recognise one, sign it out.</p>
<ul class="sessions">
${sessions.map((s) => sessionHtml(s, view)).join('\n')}
</ul>
<div class="actions">
${others ? postForm('/auth/devices/sign-out-others', view.csrfToken, '<button type="submit" class="secondary">Sign out everywhere else</button>') : ''}
${postForm('/auth/devices/sign-out-everywhere', view.csrfToken, '<button type="submit">Sign out everywhere</button>')}
</div>`;
  return documentHtml(view.theme, view.stylesheetPath, { title: 'Your devices', main, wide: true });
}
