// The log stream: every line arrives whole and in order, through partial writes and a full pipe;
// a reader that does not keep up costs dropped lines (counted in a line of their own), not memory.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, createReadStream, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineStream } from '../../src/log-stream.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'log-stream-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const line = (i: number) => `{"n":${i},"pad":"${'x'.repeat(i % 50)}"}\n`;

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('LineStream', () => {
  it('writes every line, in order, in batches and on the timer', async () => {
    const file = join(tempDir(), 'out.log');
    const fd = openSync(file, 'w');
    const stream = new LineStream(fd, { batchChars: 1000, flushIntervalMs: 20 });
    const expected: string[] = [];
    for (let i = 0; i < 5000; i++) {
      expected.push(line(i));
      stream.write(line(i));
      if (i % 97 === 0) await new Promise((r) => setImmediate(r));
    }
    // The tail is below the batch size: the timer writes it.
    await until(() => readFileSync(file, 'utf8').length === expected.join('').length);
    expect(readFileSync(file, 'utf8')).toBe(expected.join(''));
    stream.close();
    closeSync(fd);
  });

  it('survives a full non-blocking pipe (partial writes, EAGAIN) without losing or reordering a line', async () => {
    const fifo = join(tempDir(), 'fifo');
    execFileSync('mkfifo', [fifo]);
    // O_RDWR opens a FIFO without waiting for a reader; O_NONBLOCK makes a full pipe answer EAGAIN.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const stream = new LineStream(fd, { batchChars: 4096, retryMs: 5 });
    const expected: string[] = [];
    // ≈ 250 KB: several times what a pipe holds (64 KB), all queued before anyone reads.
    for (let i = 0; i < 6000; i++) {
      expected.push(line(i));
      stream.write(line(i));
    }
    stream.flush();
    await new Promise((r) => setTimeout(r, 200));
    const want = expected.join('');
    let got = '';
    const reader = createReadStream(fifo, { encoding: 'utf8' });
    reader.on('data', (chunk) => (got += chunk as string));
    await until(() => {
      stream.flush();
      return got.length >= want.length;
    });
    reader.destroy();
    expect(got).toBe(want);
    stream.close();
    closeSync(fd);
  });

  it('drops lines beyond its pending limit and says how many in a line of its own', async () => {
    const file = join(tempDir(), 'out.log');
    const fd = openSync(file, 'w');
    const stream = new LineStream(fd, { batchChars: 100, maxPendingChars: 1000, flushIntervalMs: 20 });
    // Synchronously: the first batch is in flight, so the rest piles up to the limit, then drops.
    let accepted = 0;
    for (let i = 0; i < 500; i++) if (stream.write(`{"i":"${String(i).padStart(4, "0")}"}\n`)) accepted++;
    expect(accepted).toBeLessThan(500);
    expect(stream.droppedTotal).toBe(500 - accepted);
    await until(() => readFileSync(file, 'utf8').includes('"dropped"'));
    stream.close();
    closeSync(fd);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const notice = JSON.parse(lines.find((l) => l.includes('"dropped"')) as string) as { level: string; dropped: number };
    expect(notice.level).toBe('warn');
    expect(notice.dropped).toBe(500 - accepted);
    // The notice does not reset the running total the metric reads.
    expect(stream.droppedTotal).toBe(500 - accepted);
    expect(lines.filter((l) => !l.includes('"dropped"'))).toHaveLength(accepted);
    for (const l of lines) JSON.parse(l);
  });

  it('flushSync on close writes what is pending, including a batch still in flight', () => {
    const file = join(tempDir(), 'out.log');
    const fd = openSync(file, 'w');
    const stream = new LineStream(fd, { batchChars: 50 });
    for (let i = 0; i < 20; i++) stream.write(line(i));
    stream.close();
    closeSync(fd);
    const text = readFileSync(file, 'utf8');
    // Every line is there; the in-flight batch may appear twice (at-least-once at exit), never a torn line.
    for (let i = 0; i < 20; i++) expect(text).toContain(line(i));
    for (const l of text.trim().split('\n')) JSON.parse(l);
  });
});
