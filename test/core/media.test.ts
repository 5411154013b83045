import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { DEFAULT_MEDIA_LIMITS, type MediaLimits } from '../../src/contracts/media.js';
import type { LoadedImage } from '../../src/contracts/request.js';
import { encodePng, headerSize, loadImage, sniffFormat, toRgb } from '../../src/core/media.js';
import { UserError } from '../../src/errors.js';

const LIMITS: MediaLimits = DEFAULT_MEDIA_LIMITS;
type RGB = [number, number, number];

function solid(width: number, height: number, colour: RGB, alpha = 1) {
  const [r, g, b] = colour;
  return sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha } } });
}

/** Vertical stripes, left to right, each `w` wide. */
async function stripes(colours: RGB[], w: number, h: number): Promise<Buffer> {
  const data = Buffer.alloc(colours.length * w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < colours.length * w; x++) {
      const c = colours[Math.floor(x / w)] as RGB;
      data.set(c, (y * colours.length * w + x) * 3);
    }
  return sharp(data, { raw: { width: colours.length * w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

/** A one-frame GIF, black and white palette: a logical screen and one frame (size and offset). */
function gifWithFrame(o: { screen: [number, number]; frame: [number, number]; at?: [number, number] }) {
  const u16 = (n: number) => [n & 0xff, n >> 8];
  const [left, top] = o.at ?? [0, 0];
  return Buffer.from([
    ...Buffer.from('GIF89a'),
    ...u16(o.screen[0]),
    ...u16(o.screen[1]),
    0x80, // a global colour table of 2 entries
    0,
    0,
    ...[0, 0, 0, 255, 255, 255],
    0x2c,
    ...u16(left),
    ...u16(top),
    ...u16(o.frame[0]),
    ...u16(o.frame[1]),
    0,
    ...[2, 2, 0x4c, 0x01, 0], // LZW data: clear, one pixel, end
    0x3b,
  ]);
}

async function loaded(name: string, bytes: Buffer): Promise<LoadedImage> {
  return loadImage(name, bytes, LIMITS);
}

function pixel(img: { data: Buffer; width: number }, x: number, y: number): RGB {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]] as RGB;
}

function near(actual: RGB, expected: RGB, tol = 12, what = '') {
  assert.ok(
    actual.every((v, i) => Math.abs(v - (expected[i] as number)) <= tol),
    `${what} ${actual} is not near ${expected}`,
  );
}

async function rejectsUser(p: Promise<unknown>, code: string, message: RegExp | string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/** A tiny PNG whose IHDR claims width × height (CRC fixed), so nothing big is ever built. */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await solid(2, 2, [255, 0, 0]).png().toBuffer());
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

const RED: RGB = [255, 0, 0];
const GREEN: RGB = [0, 255, 0];
const BLUE: RGB = [0, 0, 255];

describe('defaults', () => {
  test('DEFAULT_MEDIA_LIMITS', () => {
    assert.deepEqual(DEFAULT_MEDIA_LIMITS, {
      maxBytes: 20 * 1024 * 1024,
      maxPixels: 40_000_000,
      formats: ['png', 'jpeg', 'webp', 'gif'],
    });
  });
});

describe('loadImage', () => {
  test('reads format and size of png, jpeg, webp (lossy, lossless, alpha) and gif', async () => {
    const base = () => solid(37, 23, [10, 200, 30]);
    const cases: [string, Buffer, LoadedImage['format']][] = [
      ['a.png', await base().png().toBuffer(), 'png'],
      ['a.jpg', await base().jpeg().toBuffer(), 'jpeg'],
      ['a.webp', await base().removeAlpha().webp().toBuffer(), 'webp'],
      ['b.webp', await base().webp({ lossless: true }).toBuffer(), 'webp'],
      ['c.webp', await solid(37, 23, [1, 2, 3], 0.5).webp().toBuffer(), 'webp'],
      ['a.gif', await base().gif().toBuffer(), 'gif'],
    ];
    for (const [name, bytes, format] of cases) {
      const img = await loaded(name, bytes);
      assert.deepEqual(
        { ...img, bytes: undefined },
        { name, bytes: undefined, format, width: 37, height: 23 },
      );
      assert.equal(img.bytes, bytes, 'bytes are kept as they are');
      assert.deepEqual(headerSize(bytes, format), { width: 37, height: 23 }, `${name} header`);
    }
  });

  test('EXIF-rotated JPEG reports the displayed width and height', async () => {
    const jpeg = await solid(40, 20, RED).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const img = await loaded('phone.jpg', jpeg);
    assert.equal(img.width, 20);
    assert.equal(img.height, 40);
  });

  test('zero bytes', async () => {
    await rejectsUser(loaded('x.png', Buffer.alloc(0)), 'bad_image', 'x.png is empty.');
  });

  test('text, HTML and PDF are not images', async () => {
    const expected = (n: string) => `${n} is not an image (expected PNG, JPEG, WebP or GIF).`;
    await rejectsUser(loaded('x.txt', Buffer.from('hello world\n')), 'bad_image', expected('x.txt'));
    const html = Buffer.from('<!DOCTYPE html><html><body>Sign in to Slack</body></html>');
    await rejectsUser(loaded('x.png', html), 'bad_image', expected('x.png'));
    await rejectsUser(loaded('x.pdf', Buffer.from('%PDF-1.7\n')), 'bad_image', expected('x.pdf'));
    await rejectsUser(loaded('x.png', Buffer.from([0x89, 0x50])), 'bad_image', expected('x.png'));
  });

  test('image formats not in the list are named and refused', async () => {
    const accepts = /iris accepts PNG, JPEG, WebP or GIF\.$/;
    const tiff = await solid(8, 8, RED).tiff().toBuffer();
    await rejectsUser(loaded('scan.tif', tiff), 'bad_image', /^scan\.tif is in TIFF format; /);
    await rejectsUser(loaded('scan.tif', tiff), 'bad_image', accepts);
    const svg = Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9"/>');
    await rejectsUser(loaded('logo.svg', svg), 'bad_image', /^logo\.svg is in SVG format; /);
    const avif = await solid(8, 8, RED).avif().toBuffer();
    await rejectsUser(loaded('a.avif', avif), 'bad_image', /^a\.avif is in AVIF format; /);
    const jpeg = await solid(8, 8, RED).jpeg().toBuffer();
    const pngOnly: MediaLimits = { ...LIMITS, formats: ['png'] };
    await rejectsUser(
      loadImage('a.jpg', jpeg, pngOnly),
      'bad_image',
      'a.jpg is in JPEG format; iris accepts PNG.',
    );
  });

  test('too many bytes', async () => {
    const png = await solid(64, 64, RED).png().toBuffer();
    await rejectsUser(
      loadImage('x.png', png, { ...LIMITS, maxBytes: 100 }),
      'image_too_large',
      /^x\.png is .* MB; the limit is < 0\.1 MB\.$/,
    );
    const big = Buffer.concat([png, Buffer.alloc(21 * 1024 * 1024)]);
    await rejectsUser(loaded('x.png', big), 'image_too_large', 'x.png is 21 MB; the limit is 20 MB.');
  });

  test('a 30000×30000 PNG is refused from its header, fast', async () => {
    const png = await pngClaiming(30000, 30000);
    assert.ok(png.length < 200);
    const t0 = performance.now();
    await rejectsUser(
      loaded('huge.png', png),
      'image_too_large',
      'huge.png is 30000×30000 pixels (900 megapixels); the limit is 40 megapixels.',
    );
    assert.ok(performance.now() - t0 < 500, 'refused without decoding');
  });

  test('too many pixels at a custom limit, for every format', async () => {
    for (const s of [solid(20, 10, RED).png(), solid(20, 10, RED).jpeg(), solid(20, 10, RED).webp()]) {
      await rejectsUser(
        loadImage('x', await s.toBuffer(), { ...LIMITS, maxPixels: 199 }),
        'image_too_large',
        'x is 20×10 pixels; the limit is 199 pixels.',
      );
    }
    await loadImage('x', await solid(20, 10, RED).png().toBuffer(), { ...LIMITS, maxPixels: 200 });
  });

  test('sharp enforces the pixel limit too when the header cannot be read cheaply', async () => {
    const jpeg = await solid(20, 10, RED).jpeg().toBuffer();
    assert.deepEqual(headerSize(jpeg, 'jpeg'), { width: 20, height: 10 });
    // a stray byte after the first segment: libjpeg skips it (a warning), our header scanner gives up
    const at = 4 + jpeg.readUInt16BE(4);
    const odd = Buffer.concat([jpeg.subarray(0, at), Buffer.from([0x00]), jpeg.subarray(at)]);
    assert.equal(headerSize(odd, 'jpeg'), null);
    assert.deepEqual((await loaded('odd.jpg', odd)).width, 20);
    await rejectsUser(
      loadImage('odd.jpg', odd, { ...LIMITS, maxPixels: 199 }),
      'image_too_large',
      'odd.jpg has more pixels than the limit of 199 pixels.',
    );
    assert.equal(headerSize(jpeg.subarray(0, 4), 'jpeg'), null);
    assert.equal(headerSize(Buffer.from('89504e47', 'hex'), 'png'), null);
  });

  test('garbage after a PNG signature is corrupt', async () => {
    const png = await solid(8, 8, RED).png().toBuffer();
    const bad = Buffer.concat([png.subarray(0, 8), Buffer.alloc(64, 7)]);
    await rejectsUser(loaded('x.png', bad), 'bad_image', 'x.png: the image data is corrupt or truncated');
  });

  test('GIF: the first frame', async () => {
    const frames = [await solid(10, 6, RED).png().toBuffer(), await solid(10, 6, BLUE).png().toBuffer()];
    const gif = await sharp(frames, { join: { animated: true } })
      .gif()
      .toBuffer();
    assert.equal((await sharp(gif, { pages: -1 }).metadata()).pages, 2);
    const img = await loaded('anim.gif', gif);
    assert.deepEqual([img.width, img.height], [10, 6]);
    const rgb = await toRgb(img, { width: 10, height: 6, fit: 'fill' });
    assert.equal(rgb.data.length, 10 * 6 * 3);
    near(pixel(rgb, 5, 3), RED, 12, 'first frame');
  });

  test('GIF: a first frame larger than its logical screen is measured by the frame', async () => {
    // A 1×1 screen holding a 20000×20000 frame: libvips decodes the frame, so the limit must see it.
    const huge = gifWithFrame({ screen: [1, 1], frame: [20000, 20000] });
    assert.deepEqual(headerSize(huge, 'gif'), { width: 20000, height: 20000 });
    await rejectsUser(
      loaded('huge.gif', huge),
      'image_too_large',
      'huge.gif is 20000×20000 pixels (400 megapixels); the limit is 40 megapixels.',
    );
    // A frame placed past the screen's edge: the union of both, as libvips reports it.
    const shifted = gifWithFrame({ screen: [1, 1], frame: [100, 100], at: [5, 5] });
    assert.deepEqual(headerSize(shifted, 'gif'), { width: 105, height: 105 });
    const placed = await loaded('shifted.gif', shifted);
    assert.deepEqual([placed.width, placed.height], [105, 105]);
    // sharp's own animated GIF: the walk passes its extension blocks (loop count, frame delays).
    const frames = [await solid(10, 6, RED).png().toBuffer(), await solid(10, 6, BLUE).png().toBuffer()];
    const anim = await sharp(frames, { join: { animated: true } })
      .gif()
      .toBuffer();
    assert.deepEqual(headerSize(anim, 'gif'), { width: 10, height: 6 });
    assert.equal(headerSize(anim.subarray(0, 20), 'gif'), null, 'cut off before the first frame');
  });

  test('sniffFormat', () => {
    assert.equal(sniffFormat(Buffer.from('GIF89a')), 'gif');
    assert.equal(sniffFormat(Buffer.from('RIFF\0\0\0\0WEBP')), 'webp');
    assert.equal(sniffFormat(Buffer.from('RIFF\0\0\0\0WAVE')), null);
    assert.equal(sniffFormat(Buffer.from('\uFEFF  <svg xmlns="x">')), 'SVG');
    assert.equal(sniffFormat(Buffer.from('<html><svg></svg></html>')), null);
    assert.equal(sniffFormat(Buffer.from('BM')), 'BMP');
  });
});

describe('toRgb', () => {
  test('cover: shortest edge then centre crop', async () => {
    const img = await loaded('s.png', await stripes([RED, GREEN, BLUE], 100, 100));
    const out = await toRgb(img, { width: 50, height: 50, fit: 'cover' });
    assert.deepEqual([out.width, out.height, out.data.length], [50, 50, 50 * 50 * 3]);
    for (const x of [2, 25, 47]) near(pixel(out, x, 25), GREEN, 40, `x=${x}`);
  });

  test('cover matches CLIP: 224 from a landscape photo', async () => {
    const img = await loaded('s.png', await stripes([RED, GREEN, GREEN, BLUE], 160, 480));
    const out = await toRgb(img, { width: 224, height: 224, fit: 'cover' });
    assert.deepEqual([out.width, out.height], [224, 224]);
    // 640×480 → 299×224, crop x 37..261 of it = source x 80..560: red, green, green, blue halves at edges
    near(pixel(out, 0, 100), RED, 12, 'left edge');
    near(pixel(out, 112, 100), GREEN, 12, 'centre');
    near(pixel(out, 223, 100), BLUE, 12, 'right edge');
  });

  test('fill: stretch', async () => {
    const img = await loaded('s.png', await stripes([RED, GREEN, BLUE], 100, 100));
    const out = await toRgb(img, { width: 30, height: 30, fit: 'fill' });
    assert.deepEqual([out.width, out.height], [30, 30]);
    near(pixel(out, 2, 15), RED);
    near(pixel(out, 15, 15), GREEN);
    near(pixel(out, 27, 15), BLUE);
  });

  test('contain: letterbox in black', async () => {
    const img = await loaded('s.png', await stripes([RED, GREEN, BLUE], 100, 100));
    const out = await toRgb(img, { width: 60, height: 60, fit: 'contain' });
    assert.deepEqual([out.width, out.height], [60, 60]);
    near(pixel(out, 30, 2), [0, 0, 0], 0, 'top bar');
    near(pixel(out, 30, 57), [0, 0, 0], 0, 'bottom bar');
    near(pixel(out, 5, 30), RED);
    near(pixel(out, 30, 30), GREEN);
    near(pixel(out, 55, 30), BLUE);
  });

  test('transparency is flattened onto white, 3 channels out', async () => {
    const clear = await loaded('c.png', await solid(16, 16, [0, 0, 0], 0).png().toBuffer());
    near(pixel(await toRgb(clear, { width: 8, height: 8, fit: 'cover' }), 4, 4), [255, 255, 255], 0);
    const half = await loaded('h.png', await solid(16, 16, RED, 0.5).png().toBuffer());
    near(pixel(await toRgb(half, { width: 8, height: 8, fit: 'fill' }), 4, 4), [255, 128, 128], 2);
    const gif = await loaded('c.gif', await solid(16, 16, [0, 0, 0], 0).gif().toBuffer());
    near(pixel(await toRgb(gif, { width: 8, height: 8, fit: 'fill' }), 4, 4), [255, 255, 255], 0);
  });

  test('greyscale and 16-bit input come out as 8-bit RGB', async () => {
    const g16 = await solid(8, 8, [128, 128, 128]).greyscale().toColourspace('grey16').png().toBuffer();
    assert.equal((await sharp(g16).metadata()).depth, 'ushort');
    const out = await toRgb(await loaded('g.png', g16), { width: 4, height: 4, fit: 'fill' });
    assert.equal(out.data.length, 4 * 4 * 3);
    near(pixel(out, 1, 1), [128, 128, 128], 2);
  });

  test('EXIF orientation is applied before resizing', async () => {
    // stored: left half red, right half blue; orientation 6 = rotate 90° clockwise to display
    const stored = await sharp(await stripes([RED, BLUE], 20, 20))
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await loaded('phone.jpg', stored);
    const out = await toRgb(img, { width: img.width, height: img.height, fit: 'fill' });
    assert.deepEqual([out.width, out.height], [20, 40]);
    near(pixel(out, 10, 5), RED, 30, 'top');
    near(pixel(out, 10, 34), BLUE, 30, 'bottom');
  });

  test('shrink-on-load: a big JPEG to 224 is right', async () => {
    const jpeg = await solid(3000, 2000, GREEN).jpeg().toBuffer();
    const out = await toRgb(await loaded('big.jpg', jpeg), { width: 224, height: 224, fit: 'cover' });
    assert.deepEqual([out.width, out.height], [224, 224]);
    near(pixel(out, 100, 100), GREEN, 8);
  });

  test('truncated PNG and JPEG: header loads, decoding fails with bad_image', async () => {
    const noise = { type: 'gaussian', mean: 128, sigma: 30 } as const;
    const base = () =>
      sharp({ create: { width: 300, height: 200, channels: 3, noise, background: 'black' } });
    for (const [name, bytes] of [
      ['t.png', await base().png().toBuffer()],
      ['t.jpg', await base().jpeg().toBuffer()],
    ] as const) {
      const cut = bytes.subarray(0, Math.floor(bytes.length / 2));
      const img = await loaded(name, cut);
      await rejectsUser(
        toRgb(img, { width: 32, height: 32, fit: 'cover' }),
        'bad_image',
        `${name}: the image data is corrupt or truncated`,
      );
    }
  });

  test('a LoadedImage that lies about its size still cannot make sharp decode a huge image', async () => {
    const img: LoadedImage = {
      name: 'liar.png',
      bytes: await pngClaiming(10000, 10000), // 100 MP: under sharp's own default limit, over ours
      format: 'png',
      width: 2,
      height: 2,
    };
    await assert.rejects(toRgb(img, { width: 8, height: 8, fit: 'fill' }), (e: unknown) => {
      assert.ok(e instanceof UserError && e.code === 'bad_image');
      assert.match(String((e.cause as Error).message), /pixel limit/);
      return true;
    });
  });
});

describe('encodePng', () => {
  test('raw RGB and RGBA round-trip', async () => {
    const rgb = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]);
    const png = await encodePng({ data: rgb, width: 2, height: 2, channels: 3 });
    assert.equal(sniffFormat(png), 'png');
    const back = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([back.info.width, back.info.height, back.info.channels], [2, 2, 3]);
    assert.deepEqual(back.data, rgb);
    const rgba = Buffer.from([1, 2, 3, 0, 4, 5, 6, 128]);
    const png4 = await encodePng({ data: rgba, width: 2, height: 1, channels: 4 });
    assert.deepEqual(await sharp(png4).raw().toBuffer(), rgba);
  });

  test('raw data of the wrong length is a programming error', async () => {
    await assert.rejects(encodePng({ data: Buffer.alloc(11), width: 2, height: 2, channels: 3 }), RangeError);
  });

  test('EXIF, ICC and orientation are stripped; the picture is turned upright first', async () => {
    const jpeg = await sharp(await stripes([RED, BLUE], 20, 20))
      .jpeg()
      .withIccProfile('p3')
      .withMetadata({ orientation: 6 })
      .withExifMerge({ IFD0: { Copyright: 'SECRET camera owner' } })
      .toBuffer();
    const inMeta = await sharp(jpeg).metadata();
    assert.ok(inMeta.exif && inMeta.icc, 'fixture has EXIF and ICC');
    assert.equal(inMeta.orientation, 6);
    const png = await encodePng(jpeg);
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.exif, undefined);
    assert.equal(meta.icc, undefined);
    assert.equal(meta.xmp, undefined);
    assert.equal(meta.orientation, undefined);
    assert.deepEqual([meta.width, meta.height], [20, 40]);
    assert.ok(!png.includes('SECRET'));
    const withText = await sharp(await solid(4, 4, RED).png().toBuffer())
      .withMetadata({ orientation: 3 })
      .keepExif()
      .png()
      .toBuffer();
    assert.ok((await sharp(withText).metadata()).exif, 'PNG fixture carries eXIf');
    assert.equal((await sharp(await encodePng(withText)).metadata()).exif, undefined);
  });
});
