// The pages' one stylesheet, generated from the theme colours and served by the gateway at a path
// named after its content, so browsers may cache it for good and a new theme is a new file. Every
// colour in it is a validated hex value or derived from one: nothing from configuration reaches the
// CSS as text.
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export interface ThemeColors {
  readonly primary: string;
  readonly background: string;
  readonly text: string;
}

export interface Stylesheet {
  /** `/auth/assets/pages-<hash>.css` */
  readonly path: string;
  readonly css: string;
}

type Rgb = readonly [number, number, number];

const HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

function parseHex(name: string, value: string): Rgb {
  if (!HEX.test(value)) throw new Error(`pages.colors.${name} must be #rgb or #rrggbb`);
  const h = value.length === 4 ? [...value.slice(1)].map((c) => c + c).join('') : value.slice(1);
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as unknown as Rgb;
}

function toHex(c: Rgb): string {
  return `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
}

/** `a` moved a fraction `t` of the way to `b`. */
function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [0, 1, 2].map((i) => (a[i] as number) + ((b[i] as number) - (a[i] as number)) * t) as unknown as Rgb;
}

// WCAG 2 relative luminance and contrast ratio.
function luminance(c: Rgb): number {
  const [r, g, b] = c.map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const ALERT: Rgb = [0xc0, 0x1c, 0x28];

/** The stylesheet for these colours; throws on anything but #rgb / #rrggbb. */
export function buildStylesheet(colors: ThemeColors): Stylesheet {
  const primary = parseHex('primary', colors.primary);
  const bg = parseHex('background', colors.background);
  const text = parseHex('text', colors.text);
  // Button text in whichever of white or black reads better on the primary colour.
  const onPrimary = contrast(primary, WHITE) >= contrast(primary, BLACK) ? WHITE : BLACK;
  const c = {
    primary: toHex(primary),
    onPrimary: toHex(onPrimary),
    bg: toHex(bg),
    text: toHex(text),
    // Cards a little lighter than the page: much closer to white on a light page, a shade on a dark one.
    surface: toHex(mix(bg, WHITE, luminance(bg) > 0.4 ? 0.6 : 0.07)),
    border: toHex(mix(bg, text, 0.22)),
    field: toHex(mix(bg, text, 0.45)),
    muted: toHex(mix(bg, text, 0.72)),
    alert: toHex(ALERT),
  };
  const css = stylesheetText(c);
  const hash = createHash('sha256').update(css).digest('hex').slice(0, 16);
  return { path: `/auth/assets/pages-${hash}.css`, css };
}

function stylesheetText(c: Record<'primary' | 'onPrimary' | 'bg' | 'text' | 'surface' | 'border' | 'field' | 'muted' | 'alert', string>): string {
  return `*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:1rem;line-height:1.5;background:${c.bg};color:${c.text}}
.product,main{max-width:26rem;margin:0 auto;padding-left:1rem;padding-right:1rem}
.wide .product,.wide main{max-width:46rem}
.product{display:flex;align-items:center;gap:.75rem;padding-top:2rem;font-weight:600;font-size:1.125rem}
.logo{display:block;max-height:2.5rem;max-width:10rem}
main{padding-bottom:3rem}
h1{font-size:1.5rem;line-height:1.25;margin:1.25rem 0 1rem}
h2{font-size:1.125rem;line-height:1.3;margin:0}
p{margin:.75rem 0}
.card{background:${c.surface};border:1px solid ${c.border};border-radius:.5rem;padding:1.25rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
label:first-of-type{margin-top:0}
input{display:block;width:100%;padding:.625rem .75rem;font:inherit;color:${c.text};background:${c.bg};border:1px solid ${c.field};border-radius:.375rem}
button,.button{display:inline-block;font:inherit;font-weight:600;line-height:1.25;padding:.625rem 1rem;border-radius:.375rem;border:1px solid ${c.primary};background:${c.primary};color:${c.onPrimary};cursor:pointer;text-decoration:none;text-align:center}
button:hover,.button:hover{text-decoration:underline}
.secondary{background:${c.surface};color:${c.text};border-color:${c.field}}
.block{display:block;width:100%}
form .block{margin-top:1.5rem}
:focus-visible{outline:3px solid ${c.primary};outline-offset:2px}
.message{margin:0 0 1rem;padding:.75rem 1rem;border:1px solid ${c.border};border-left:4px solid ${c.alert};border-radius:.375rem;background:${c.surface}}
.message.info{border-left-color:${c.primary}}
.providers{list-style:none;margin:0;padding:0;display:grid;gap:.75rem}
.divider{display:flex;align-items:center;gap:.75rem;margin:1.25rem 0;color:${c.muted}}
.divider::before,.divider::after{content:"";flex:1;border-top:1px solid ${c.border}}
.muted{color:${c.muted}}
.sessions{list-style:none;margin:0;padding:0;display:grid;gap:1rem}
.session-head{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem}
.badge{display:inline-block;padding:.125rem .625rem;border-radius:1rem;background:${c.primary};color:${c.onPrimary};font-size:.875rem;font-weight:600}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.75rem 0 0}
.facts dt{color:${c.muted}}
.facts dd{margin:0;overflow-wrap:anywhere}
.session form{margin-top:1rem}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.5rem}
.actions form{margin:0}
.visually-hidden{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
@media (max-width:32rem){.product{padding-top:1.25rem}.facts{grid-template-columns:1fr;gap:0}.facts dd{margin-bottom:.5rem}.actions{flex-direction:column}.actions button{width:100%}}
`;
}

/** GET of the stylesheet: its path names its content, so it never changes and is cached for good. */
export function sendStylesheet(res: ServerResponse, sheet: Stylesheet): void {
  res.writeHead(200, {
    'content-type': 'text/css; charset=utf-8',
    'content-length': Buffer.byteLength(sheet.css),
    'cache-control': 'public, max-age=31536000, immutable',
    'x-content-type-options': 'nosniff',
  });
  res.end(sheet.css);
}
