// `gateway explain`'s report as text for a terminal (the CLI without --json); the report itself,
// and how it is made, are explain.ts's.
import { ERRORS } from '../errors.js';
import { hostWords, type ExplainReport } from './explain.js';

function indent(lines: readonly string[], by = '  '): string[] {
  return lines.map((l) => by + l);
}

/** The report as text for a terminal (the CLI without --json). */
export function formatExplanation(r: ExplainReport): string {
  const out: string[] = [];
  out.push(`${r.request.method} ${r.request.url}   (from ${r.request.client}, an untrusted client; request id ${r.request.requestId})`);
  if (r.request.cookie || r.request.bearer) out.push(`  with ${[r.request.cookie && 'a session cookie', r.request.bearer && 'a bearer token'].filter(Boolean).join(' and ')} (not shown)`);
  out.push('');
  const n = r.normalization;
  out.push('Normalization');
  out.push(`  target   ${n.target}`);
  for (const s of n.steps) out.push(`  - ${s.detail}${s.step === 'encode' ? '' : `   → ${s.path}`}`);
  if (n.refused) out.push(`  refused  400 ${n.refused.code}: ${n.refused.detail}${n.refused.segment !== undefined ? ` (segment "${n.refused.segment}")` : ''}`);
  if (n.path !== undefined) out.push(`  path     ${n.path}${n.steps.length === 0 ? '   (already normal)' : ''}${n.encodedPath !== n.path ? `   (upstream: ${n.encodedPath})` : ''}`);
  if (n.query) out.push(`  query    ${n.query}   (passed upstream untouched, never used to route)`);
  if (n.folded !== undefined) out.push(`  folded   ${n.folded}   (what caseInsensitive routes and the lenient check compare)`);
  out.push(`  host     ${n.host.refused ? `refused (${n.host.refused})` : n.host.normalized === '' ? '(none)' : n.host.normalized}${n.host.header !== undefined && n.host.header !== n.host.normalized ? `   (Host: ${n.host.header})` : ''}`);
  out.push('');
  if (r.route) {
    const rt = r.route;
    out.push('Route');
    out.push(`  ${rt.result === 'route' ? rt.name : rt.result === 'endpoint' ? `gateway endpoint ${rt.endpoint}` : rt.result === 'none' ? 'no route' : rt.result === 'method_not_allowed' ? `no route takes ${rt.method}` : `ambiguous (${rt.name})`}`);
    out.push(`  why      ${rt.reason}`);
    for (const t of rt.tiers ?? []) {
      if (t.levels.length === 0) continue;
      out.push(`  ${hostWords(t.tier, t.host ?? undefined)}${t.consulted ? '' : ' (not consulted)'}:`);
      for (const l of t.levels) {
        out.push(`    ${l.prefix}  ${l.routes.map((x) => `${x.name} [${x.methods ? x.methods.join(' ') : 'all methods'}]${x.caseInsensitive ? ' (caseInsensitive)' : ''}${x.takesMethod ? '' : ' (not this method)'}`).join(', ')}`);
      }
    }
    if (rt.upstream) out.push(`  upstream ${rt.upstream.url}   (Host: ${rt.upstream.host}${rt.upstream.stripPrefix ? ', stripPrefix' : ''})`);
    out.push('');
  }
  if (r.policy) {
    out.push('Policy');
    out.push(`  auth     ${r.policy.auth}`);
    out.push(...indent(r.policy.words.map((w, i) => (i === 0 ? w : `- ${w}`))));
    out.push('');
  }
  if (r.authentication) {
    out.push('Authentication');
    for (const t of r.authentication.tried) out.push(`  - ${t.words}`);
    out.push(...indent(r.authentication.words));
    if (r.authentication.principal) out.push(`  as       ${r.authentication.principal.sub} (via ${r.authentication.principal.via}${r.authentication.principal.issuer ? `, issuer ${r.authentication.principal.issuer}` : ''})`);
    out.push('');
  }
  if (r.csrf) {
    out.push(r.policy?.auth === 'public' ? 'CSRF' : `CSRF (csrf: ${String(r.csrf.mode)})`);
    out.push(`  ${r.csrf.words}${r.csrf.appliesHere ? ' (checked for this request)' : ''}`);
    out.push('');
  }
  if (r.headers) {
    out.push('Headers');
    for (const d of r.headers.dropped) out.push(`  dropped    ${d.name}: ${d.reason}`);
    if (r.headers.cookiesRemoved.length > 0) out.push(`  removed    from Cookie: ${r.headers.cookiesRemoved.join(', ')} (the gateway's own cookies never reach an upstream)`);
    for (const f of r.headers.forwarded) out.push(`  forwarded  ${f.name}: ${f.value}`);
    for (const a of r.headers.added) out.push(`  added      ${a.name}: ${a.value}   (${a.source})`);
    out.push('');
  }
  const d = r.decision;
  out.push('Decision');
  if (d.result === 'allowed') out.push(`  allowed: ${d.detail ?? ''}`);
  else if (d.result === 'answered_by_gateway') out.push(`  answered by the gateway: ${d.detail ?? ''}`);
  else {
    const code = d.code !== undefined ? ERRORS[d.code as keyof typeof ERRORS] : undefined;
    out.push(`  ${code?.status ?? d.status ?? ''} ${d.code ?? d.result}${d.reason ? ` (reason ${d.reason})` : ''}: ${d.message ?? ''}${d.detail ? ` [${d.detail}]` : ''}`);
    if (d.signIn) out.push(`  a browser is redirected (${d.status ?? 302}) to ${d.signIn}`);
    if (d.allow) out.push(`  Allow: ${d.allow}`);
    if (d.wwwAuthenticate) out.push(`  WWW-Authenticate: ${d.wwwAuthenticate}`);
    if (d.retryAfter) out.push(`  Retry-After: ${d.retryAfter}`);
  }
  if (r.token) {
    out.push('');
    out.push(`Internal token (${r.token.header}; ${[r.token.alg, r.token.typ, r.token.kid && `kid ${r.token.kid}`].filter(Boolean).join(', ')}): its claims, never the token`);
    out.push(...indent(JSON.stringify(r.token.claims, null, 2).split('\n')));
  }
  if (r.notes.length > 0) {
    out.push('');
    for (const note of r.notes) out.push(`Note: ${note}`);
  }
  return out.join('\n');
}
