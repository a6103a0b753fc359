// Error pages of your own: an HTML template for the gateway's answers to browsers, globally
// (errorPages.html in gateway.yaml) or per route (errorPage in routes.yaml). Read and checked at load
// and at every reload, never per request: `{{status}}`, `{{title}}`, `{{message}}`, `{{code}}`,
// `{{reason}}` and `{{requestId}}` are filled in, HTML-escaped; any other `{{...}}` is a load error.
// APIs (clients not asking for HTML) keep the JSON body with the same stable code.
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { ConfigError } from '../errors.js';

const FIELDS = ['status', 'title', 'message', 'code', 'reason', 'requestId'] as const;
type Field = (typeof FIELDS)[number];
export type PageValues = Record<Field, string>;

/** Literal text and fields, alternating: rendering is one pass of joins. */
export interface ErrorPage {
  readonly parts: readonly (string | { readonly field: Field })[];
}

const MAX_BYTES = 64 * 1024;

export function loadErrorPage(file: string, where: { file: string; path: string }): ErrorPage {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ ...where, line: 0, column: 0, message: `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
  if (Buffer.byteLength(text) > MAX_BYTES) throw new ConfigError([{ ...where, line: 0, column: 0, message: `${file} is over 64 KiB` }]);
  const parts: (string | { field: Field })[] = [];
  let last = 0;
  for (const m of text.matchAll(/\{\{\s*([A-Za-z]+)\s*\}\}/g)) {
    const name = m[1] as string;
    if (!(FIELDS as readonly string[]).includes(name)) {
      throw new ConfigError([{ ...where, line: 0, column: 0, message: `${file}: unknown placeholder {{${name}}}; known: ${FIELDS.join(', ')}` }]);
    }
    parts.push(text.slice(last, m.index), { field: name as Field });
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(text.slice(last));
  return { parts };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderErrorPage(page: ErrorPage, status: number, values: Omit<PageValues, 'status' | 'title'>): string {
  const all: PageValues = { ...values, status: String(status), title: `${status} ${STATUS_CODES[status] ?? ''}`.trim() };
  let out = '';
  for (const p of page.parts) out += typeof p === 'string' ? p : escapeHtml(all[p.field]);
  return out;
}
