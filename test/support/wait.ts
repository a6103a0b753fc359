// Polling for a condition in tests that wait on real processes (reloads, reconnects, clusters).

export async function until(check: () => Promise<boolean>, ms = 10_000, everyMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${ms} ms`);
}
