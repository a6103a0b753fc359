// A small PNG writer and line chart, so the soak can plot without a plotting library: an RGB
// canvas, lines, rectangles, a 3×5 pixel font for tick labels, and the PNG container (signature,
// IHDR, one IDAT of zlib-deflated filter-0 scanlines, IEND, each chunk with its CRC-32).
import { deflateSync } from 'node:zlib';

export type Rgb = readonly [number, number, number];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < buf.length; i++) c = (CRC_TABLE[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}

/** 8-bit RGB, no interlace; `rgb` holds width × height × 3 bytes, rows top to bottom. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering (each row says its filter: 0, none)
  ihdr[12] = 0; // no interlace
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// 3×5 glyphs, one string of 15 bits (rows top to bottom) each.
const FONT: Record<string, string> = {
  '0': '111101101101111',
  '1': '010110010010111',
  '2': '111001111100111',
  '3': '111001111001111',
  '4': '101101111001001',
  '5': '111100111001111',
  '6': '111100111101111',
  '7': '111001001001001',
  '8': '111101111101111',
  '9': '111101111001111',
  '.': '000000000000010',
  '-': '000000111000000',
  ' ': '000000000000000',
  A: '010101111101101',
  B: '110101110101110',
  E: '111100110100111',
  H: '101101111101101',
  I: '111010010010111',
  M: '101111101101101',
  N: '110101101101101',
  P: '110101110100100',
  R: '110101110101101',
  S: '011100010001110',
};

export class Canvas {
  readonly pixels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.pixels.set(c, (y * this.width + x) * 3);
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, c);
  }

  /** Bresenham, `thickness` pixels square pen. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const off = Math.floor((thickness - 1) / 2);
    for (;;) {
      this.rect(x0 - off, y0 - off, thickness, thickness, c);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Text in the 3×5 font, `scale` pixels a dot; returns the width drawn. Unknown characters are blank. */
  text(x: number, y: number, s: string, c: Rgb, scale = 2): number {
    let cx = x;
    for (const ch of s.toUpperCase()) {
      const bits = FONT[ch] ?? FONT[' '] as string;
      for (let row = 0; row < 5; row++) for (let col = 0; col < 3; col++) if (bits[row * 3 + col] === '1') this.rect(cx + col * scale, y + row * scale, scale, scale, c);
      cx += 4 * scale;
    }
    return cx - x - scale;
  }

  static textWidth(s: string, scale = 2): number {
    return s.length * 4 * scale - scale;
  }

  png(): Buffer {
    return encodePng(this.width, this.height, this.pixels);
  }
}

/** 1, 2 or 5 × a power of ten, so that about `count` steps span `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const label = (v: number, step: number) => (step >= 1 ? String(Math.round(v)) : v.toFixed(Math.min(3, Math.ceil(-Math.log10(step)))));

export interface Series {
  readonly name: string;
  readonly color: Rgb;
  readonly points: readonly (readonly [number, number])[];
}

/** Lines on white with axes from 0 (to `xMax` when given), grid, tick labels, the x axis's name and a legend. */
export function lineChart(series: readonly Series[], options: { width?: number; height?: number; xName: string; xMax?: number }): Buffer {
  const W = options.width ?? 900;
  const H = options.height ?? 450;
  const left = 70;
  const right = 20;
  const top = 40;
  const bottom = 50;
  const c = new Canvas(W, H);
  const all = series.flatMap((s) => s.points);
  const xMax0 = options.xMax ?? Math.max(1e-9, ...all.map((p) => p[0]));
  const yMax0 = Math.max(1e-9, ...all.map((p) => p[1]));
  const xStep = niceStep(xMax0, 10);
  const yStep = niceStep(yMax0 * 1.1, 8);
  const xMax = Math.ceil(xMax0 / xStep - 1e-9) * xStep;
  const yMax = Math.ceil((yMax0 * 1.1) / yStep) * yStep;
  const px = (x: number) => left + (x / xMax) * (W - left - right);
  const py = (y: number) => H - bottom - (y / yMax) * (H - top - bottom);
  const black: Rgb = [0, 0, 0];
  const grid: Rgb = [225, 225, 225];
  for (let y = 0; y <= yMax + 1e-9; y += yStep) {
    c.line(left, py(y), W - right, py(y), grid);
    c.line(left - 5, py(y), left, py(y), black);
    const t = label(y, yStep);
    c.text(left - 9 - Canvas.textWidth(t), py(y) - 5, t, black);
  }
  for (let x = 0; x <= xMax + 1e-9; x += xStep) {
    c.line(px(x), top, px(x), H - bottom, grid);
    c.line(px(x), H - bottom, px(x), H - bottom + 5, black);
    const t = label(x, xStep);
    c.text(px(x) - Canvas.textWidth(t) / 2, H - bottom + 10, t, black);
  }
  c.line(left, top, left, H - bottom, black);
  c.line(left, H - bottom, W - right, H - bottom, black);
  c.text((left + W - right) / 2 - Canvas.textWidth(options.xName) / 2, H - bottom + 30, options.xName, black);
  for (const s of series) {
    for (let i = 1; i < s.points.length; i++) {
      const a = s.points[i - 1] as readonly [number, number];
      const b = s.points[i] as readonly [number, number];
      c.line(px(a[0]), py(a[1]), px(b[0]), py(b[1]), s.color, 2);
    }
    if (s.points.length === 1) {
      const p = s.points[0] as readonly [number, number];
      c.rect(px(p[0]) - 2, py(p[1]) - 2, 5, 5, s.color);
    }
  }
  // Legend, top left: a colour box and the series name.
  let lx = left + 10;
  for (const s of series) {
    c.rect(lx, 14, 14, 10, s.color);
    lx += 20 + c.text(lx + 20, 14, s.name, black) + 24;
  }
  return c.png();
}
