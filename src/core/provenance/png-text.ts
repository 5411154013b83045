/**
 * PNG text chunks (tEXt / iTXt) written right after IHDR, so every reader finds them before the pixels:
 * generation parameters, `Software`, and the provenance XMP (xmp.ts).
 */
import { crc32 } from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** iTXt: keyword \0 compression-flag(0) method(0) language \0 translated-keyword \0 UTF-8 text. */
function itxt(keyword: string, text: string): Buffer {
  return chunk(
    'iTXt',
    Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]),
  );
}

function textChunk(keyword: string, text: string): Buffer {
  return chunk(
    'tEXt',
    Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]),
  );
}

/**
 * Inserts text chunks right after IHDR (signature 8 bytes + IHDR 25 bytes): tEXt for printable ASCII,
 * else iTXt (UTF-8); keys in `utf8Keys` are always iTXt (XMP must be).
 */
export function withPngText(
  png: Buffer,
  entries: Record<string, string>,
  utf8Keys: readonly string[] = [],
): Buffer {
  const ihdrEnd = 8 + 8 + png.readUInt32BE(8) + 4;
  const chunks = Object.entries(entries).map(([k, v]) =>
    /^[\x20-\x7e]*$/.test(v) && !utf8Keys.includes(k) ? textChunk(k, v) : itxt(k, v),
  );
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** Text chunks of a PNG (tEXt and uncompressed iTXt), for tests and tools. */
export function readPngText(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 8;
  while (at + 8 <= png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'tEXt') {
      const z = data.indexOf(0);
      out[data.toString('latin1', 0, z)] = data.toString('latin1', z + 1);
    } else if (type === 'iTXt') {
      const z = data.indexOf(0);
      const key = data.toString('latin1', 0, z);
      const langEnd = data.indexOf(0, z + 3);
      const transEnd = data.indexOf(0, langEnd + 1);
      if (data[z + 1] === 0) out[key] = data.toString('utf8', transEnd + 1);
    } else if (type === 'IEND') break;
    at += 12 + len;
  }
  return out;
}
