// The client address as rate limits count it. An IPv6 client usually holds a whole /64 (SLAAC,
// privacy addresses: a new address per connection is free), so IPv6 addresses are counted by their
// /64 prefix; IPv4 ones (and IPv4-mapped IPv6) by the address.
import { isIP } from 'node:net';

export function addressKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const lower = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1] as string;
  return `${expand(lower).slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address, without leading zeros. */
function expand(ip: string): string[] {
  let bare = ip.split('%')[0] as string;
  // An IPv4 tail is the last two hextets: only its place matters here, never its value.
  const v4 = /\d+\.\d+\.\d+\.\d+$/.exec(bare);
  if (v4) bare = `${bare.slice(0, v4.index)}0:0`;
  const [left, right] = bare.includes('::') ? (bare.split('::') as [string, string]) : [bare, undefined];
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  const groups = right === undefined ? l : [...l, ...Array<string>(Math.max(0, 8 - l.length - r.length)).fill('0'), ...r];
  return groups.map((g) => (parseInt(g || '0', 16) || 0).toString(16));
}
