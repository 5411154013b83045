/**
 * The signed C2PA manifest of generated PNGs (src/models/imagine/c2pa.ts): local credentials made once,
 * operator credentials used when configured, validation catches edited pixels, signing is deterministic.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { readC2pa, signC2pa } from '../../src/core/provenance/c2pa.js';
import { publicModelName, TRAINED_ALGORITHMIC_MEDIA } from '../../src/core/provenance/xmp.js';

let dir = '';
let png: Buffer;
const what = { model: 'onnxruntime/sd-turbo', seed: 7, version: '0.1.0' };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-c2pa-'));
  png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c03020' } })
    .png()
    .toBuffer();
});
after(() => rm(dir, { recursive: true, force: true }));

describe('C2PA manifest', () => {
  test('signed with local credentials made on first use; validates; says trainedAlgorithmicMedia and iris', async () => {
    const settings = { certificate: '', key: '', credentialsDir: join(dir, 'local') };
    const [a, b] = await Promise.all([signC2pa(png, what, settings), signC2pa(png, what, settings)]);
    assert.deepEqual((await readdir(join(dir, 'local'))).sort(), [
      'iris-signing.cert.pem',
      'iris-signing.key.pem',
    ]);
    const again = await signC2pa(png, what, settings);
    assert.ok(again.equals(a) || again.equals(b), 'same image, same credentials → same bytes');
    const report = await readC2pa(again);
    assert.deepEqual(report, {
      valid: true,
      failures: [],
      signer: 'CN=iris, O=iris (local signing certificate)',
      digitalSourceType: TRAINED_ALGORITHMIC_MEDIA,
      softwareAgent: 'iris',
      description: 'model onnxruntime/sd-turbo, seed 7',
    });
    const meta = await sharp(again).metadata();
    assert.equal(meta.width, 32, 'still a PNG every decoder reads');
  });

  test('edited pixels fail validation; a PNG without a manifest has none', async () => {
    const settings = { certificate: '', key: '', credentialsDir: join(dir, 'local') };
    const signed = await signC2pa(png, what, settings);
    const idat = signed.indexOf('IDAT');
    const edited = Buffer.from(signed);
    edited[idat + 10] = (edited[idat + 10] as number) ^ 0xff;
    const report = await readC2pa(edited);
    assert.equal(report?.valid, false);
    assert.ok(report?.failures.includes('assertion.dataHash.mismatch'), JSON.stringify(report));
    assert.equal(await readC2pa(png), undefined);
  });

  test("the operator's certificate and key are used when configured", async () => {
    const local = join(dir, 'local');
    await signC2pa(png, what, { certificate: '', key: '', credentialsDir: local });
    const cert = join(dir, 'operator.pem');
    const key = join(dir, 'operator.key');
    await copyFile(join(local, 'iris-signing.cert.pem'), cert);
    await copyFile(join(local, 'iris-signing.key.pem'), key);
    const unused = join(dir, 'never-made');
    const signed = await signC2pa(png, what, { certificate: cert, key, credentialsDir: unused });
    assert.equal((await readC2pa(signed))?.valid, true);
    await assert.rejects(readdir(unused), 'no local credentials made when the operator gave some');
  });
});

test('files name a model by its id, never by a local folder path', () => {
  assert.equal(publicModelName('onnxruntime/sd-turbo'), 'onnxruntime/sd-turbo');
  assert.equal(publicModelName('/home/op/models/my-sd-turbo/'), 'my-sd-turbo');
  assert.equal(publicModelName('./models/sd'), 'sd');
});
