// Readiness: the gateway is ready when its configuration is loaded, it is not draining, and every
// dependency in use answers. Each dependency registers a check; /readyz reports every one by name.

export interface DependencyCheck {
  readonly name: string;
  /** Resolves to undefined when healthy, or a short reason (never a secret or an address with credentials). */
  check(): Promise<string | undefined>;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Record<string, { ok: boolean; reason?: string }>;
}

export class Readiness {
  /** Set when SIGTERM (or shutdown()) began: /readyz turns 503 so load balancers stop sending. */
  draining = false;
  /** Set once the first configuration is compiled. */
  configLoaded = false;
  private readonly checks: DependencyCheck[] = [];

  constructor(private readonly checkTimeoutMs = 1000) {}

  register(check: DependencyCheck): void {
    this.checks.push(check);
  }

  async report(): Promise<ReadinessReport> {
    const checks: ReadinessReport['checks'] = {
      config: this.configLoaded ? { ok: true } : { ok: false, reason: 'not loaded' },
      lifecycle: this.draining ? { ok: false, reason: 'draining' } : { ok: true },
    };
    await Promise.all(
      this.checks.map(async (c) => {
        const reason = await withTimeout(c.check(), this.checkTimeoutMs).catch((err: unknown) =>
          err instanceof Error ? err.message : 'failed',
        );
        checks[c.name] = reason === undefined ? { ok: true } : { ok: false, reason };
      }),
    );
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms}ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
