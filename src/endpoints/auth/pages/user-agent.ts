// What a person recognises of a session's device: "Firefox 128 on Windows", computer, read from
// the User-Agent kept with the session (bowser). A missing or strange one reads as unknown.
import { parse } from 'bowser';

export interface DeviceDescription {
  /** Browser and system: `Chrome 140 on Android`. */
  readonly title: string;
  /** Computer, Phone, Tablet, TV, Automated client or Unknown device. */
  readonly kind: string;
}

const KINDS: Record<string, string> = { desktop: 'Computer', mobile: 'Phone', tablet: 'Tablet', tv: 'TV', bot: 'Automated client' };

export function describeUserAgent(userAgent: string): DeviceDescription {
  let parsed: ReturnType<typeof parse> | undefined;
  try {
    // bowser throws on an empty string; other strings parse to whatever it recognises.
    parsed = userAgent.trim() === '' ? undefined : parse(userAgent);
  } catch {
    parsed = undefined;
  }
  const b = parsed?.browser;
  // An unrecognised client (curl, an app) by its first product token, which usually names it.
  const browser = b?.name ? `${b.name}${b.version ? ` ${b.version.split('.')[0]}` : ''}` : userAgent.trim().split(/\s/)[0]?.slice(0, 40) || 'Unknown browser';
  // The system's name only: browsers freeze its version in the User-Agent (every macOS says 10.15.7).
  const system = parsed?.os.name || undefined;
  return {
    title: system ? `${browser} on ${system}` : browser,
    kind: KINDS[parsed?.platform.type ?? ''] ?? 'Unknown device',
  };
}
