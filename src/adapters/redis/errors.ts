// What a failed Redis command says about Redis, for logs and the gateway_redis_errors_total metric:
// an answer that is an error (out of memory, a read-only replica, a loading or failing-over node)
// reads differently from no answer at all, and an operator needs to know which during an incident.
// Every one of them is a 503 for the request (fail closed), never a 401.

export type RedisCondition =
  | 'timeout'
  | 'disconnected'
  | 'oom'
  | 'readonly'
  | 'loading'
  | 'clusterdown'
  | 'tryagain'
  | 'masterdown'
  | 'noreplicas'
  | 'busy'
  | 'other';

const PREFIXES: readonly [string, RedisCondition][] = [
  ['OOM', 'oom'],
  ['READONLY', 'readonly'],
  ['LOADING', 'loading'],
  ['CLUSTERDOWN', 'clusterdown'],
  ['TRYAGAIN', 'tryagain'],
  ['MASTERDOWN', 'masterdown'],
  ['NOREPLICAS', 'noreplicas'],
  ['BUSY', 'busy'],
];

export function redisCondition(err: unknown): RedisCondition {
  const message = err instanceof Error ? err.message : String(err);
  for (const [prefix, condition] of PREFIXES) if (message.startsWith(prefix)) return condition;
  if (/timed out/i.test(message)) return 'timeout';
  if (/Stream isn't writeable|Connection is closed|enableOfflineQueue|ECONNREFUSED|ECONNRESET|EPIPE|None of startup nodes/i.test(message)) return 'disconnected';
  return 'other';
}
