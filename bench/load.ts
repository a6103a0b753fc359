// The load generator in a process of its own (pinned by the caller with taskset), so its CPU is
// not the benchmark's and never lands on the proxy's core.
//
//   node dist/bench/load.js '<autocannon options as JSON>'   one run; prints the result as JSON
//   node dist/bench/load.js                                  serves: one JSON options line in on
//                                                            stdin, one JSON result line out, until stdin ends
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const run = (options: autocannon.Options): Promise<autocannon.Result> => autocannon(options);

const arg = process.argv[2];
if (arg !== undefined) {
  const result = await run(JSON.parse(arg) as autocannon.Options);
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      const result = await run(JSON.parse(line) as autocannon.Options);
      process.stdout.write(JSON.stringify({ ok: true, result }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) }) + '\n');
    }
  }
}
