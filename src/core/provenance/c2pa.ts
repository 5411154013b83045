/**
 * A C2PA manifest signed into every generated PNG (beside the XMP of ./xmp.ts): a `c2pa.created`
 * action with IPTC's `trainedAlgorithmicMedia`, iris as the software agent, the model and seed, and a
 * hash of the pixels, signed with Ed25519. Pure TypeScript (@trustnxt/c2pa-ts): nothing native, nothing
 * downloaded.
 *
 * Credentials: the operator's certificate chain and PKCS#8 key (config provenance.c2pa.certificate /
 * key, PEM; Ed25519 or ECDSA P-256), else a local CA and signing certificate that iris makes on first
 * use in provenance.c2pa.credentialsDir. They are read from disk on every signing (two small files): no
 * state is kept, and an operator who replaces them is used from the next image on. Without a certificate
 * from a C2PA trust list, validators show the manifest as signed by an unknown signer: it proves the file
 * is unchanged since iris signed it, not who iris is.
 *
 * Deterministic: Ed25519 signatures and a manifest label derived from the image, so the same seed and
 * options still give byte-identical files.
 */
import { createHash, webcrypto } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import * as x509 from '@peculiar/x509';
import { PNG } from '@trustnxt/c2pa-ts/asset';
import { CoseAlgorithmIdentifier, LocalSigner } from '@trustnxt/c2pa-ts/cose';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ActionAssertion, DataHashAssertion, ManifestStore } from '@trustnxt/c2pa-ts/manifest';
import { TRAINED_ALGORITHMIC_MEDIA } from './xmp.js';

export interface C2paSettings {
  /** PEM certificate chain, signing certificate first ('' = the local one in credentialsDir). */
  certificate: string;
  /** PEM PKCS#8 private key of the signing certificate ('' = the local one). */
  key: string;
  /** Where iris keeps the local CA and signing certificate it makes. */
  credentialsDir: string;
}

const CERT_FILE = 'iris-signing.cert.pem';
const KEY_FILE = 'iris-signing.key.pem';
const ED25519 = { name: 'Ed25519' } as const;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** A local CA (10 years) and an Ed25519 signing certificate it issued, as PEM files in `dir`. */
async function makeLocalCredentials(dir: string): Promise<void> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const now = new Date();
  const until = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
  const caKeys = (await webcrypto.subtle.generateKey(ED25519, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=iris local signing CA',
    notBefore: now,
    notAfter: until,
    keys: caKeys,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = (await webcrypto.subtle.generateKey(ED25519, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=iris, O=iris (local signing certificate)',
    issuer: ca.subject,
    notBefore: now,
    notAfter: until,
    signingKey: caKeys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      // id-kp-emailProtection: one of the extended key usages C2PA accepts for claim signing
      new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.4'], false),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  // Written to a fresh folder and renamed into place: two processes starting at once end up with one set.
  await mkdir(dirname(dir), { recursive: true });
  const tmp = await mkdtemp(`${dir}.tmp-`);
  await writeFile(join(tmp, CERT_FILE), `${leaf.toString('pem')}\n${ca.toString('pem')}\n`);
  await writeFile(
    join(tmp, KEY_FILE),
    pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    {
      mode: 0o600,
    },
  );
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function loadSigner(settings: C2paSettings): Promise<LocalSigner> {
  let certPath = settings.certificate;
  let keyPath = settings.key;
  if (!certPath || !keyPath) {
    const dir = resolve(settings.credentialsDir);
    certPath = join(dir, CERT_FILE);
    keyPath = join(dir, KEY_FILE);
    const exists = await readFile(certPath).then(
      () => true,
      () => false,
    );
    if (!exists) await makeLocalCredentials(dir);
  }
  const chain = (await readFile(certPath, 'utf8')).match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
  );
  if (!chain?.length) throw new Error(`provenance.c2pa: no certificate in ${certPath}`);
  const certificates = chain.map((c) => new x509.X509Certificate(c));
  const leaf = certificates[0] as x509.X509Certificate;
  const key = (await readFile(keyPath, 'utf8')).replace(/-----(BEGIN|END)[^-]+-----|\s/g, '');
  const algorithm =
    leaf.publicKey.algorithm.name === 'Ed25519'
      ? CoseAlgorithmIdentifier.Ed25519
      : CoseAlgorithmIdentifier.ES256;
  return new LocalSigner(new Uint8Array(Buffer.from(key, 'base64')), algorithm, leaf, certificates.slice(1));
}

/** A UUID-shaped label derived from the image, so equal images get equal manifests. */
function labelFor(png: Buffer): string {
  const h = createHash('sha256').update(png).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `png` with a signed C2PA manifest (action created, trainedAlgorithmicMedia, iris, model, seed). */
export async function signC2pa(
  png: Buffer,
  what: { model: string; seed: number; version: string },
  settings: C2paSettings,
): Promise<Buffer> {
  const signer = await loadSigner(settings);
  const asset = new PNG(new Uint8Array(png));
  const store = new ManifestStore();
  const id = labelFor(png);
  const manifest = store.createManifest({
    assetFormat: 'image/png',
    instanceID: `xmp:iid:${id}`,
    defaultHashAlgorithm: 'SHA-256',
    signer,
  });
  manifest.label = `urn:uuid:${id}`;
  const actions = new ActionAssertion();
  actions.actions = [
    {
      action: 'c2pa.created' as never,
      digitalSourceType: TRAINED_ALGORITHMIC_MEDIA as never,
      softwareAgent: { name: 'iris', version: what.version },
      parameters: { description: `model ${what.model}, seed ${what.seed}` },
    },
  ];
  manifest.addAssertion(actions);
  const hash = DataHashAssertion.create('SHA-256');
  manifest.addAssertion(hash);
  await asset.ensureManifestSpace(store.measureSize());
  await hash.updateWithAsset(asset);
  await manifest.sign(signer);
  await asset.writeManifestJUMBF(store.getBytes());
  return Buffer.from(await asset.getDataRange());
}

export interface C2paReport {
  /** Signature, hashes and bindings all check out (the signer's trust aside). */
  valid: boolean;
  /** Failed checks (C2PA validation status codes), e.g. assertion.dataHash.mismatch for edited pixels. */
  failures: string[];
  signer?: string;
  digitalSourceType?: string;
  softwareAgent?: string;
  description?: string;
}

/** The C2PA manifest of a PNG, validated; undefined when it has none. */
export async function readC2pa(png: Buffer): Promise<C2paReport | undefined> {
  const asset = new PNG(new Uint8Array(png));
  const jumbf = asset.getManifestJUMBF();
  if (!jumbf) return undefined;
  const store = ManifestStore.read(SuperBox.fromBuffer(jumbf as Uint8Array<ArrayBuffer>));
  const result = await store.validate(asset);
  const manifest = store.getActiveManifest();
  const action = manifest?.assertions?.assertions
    .flatMap((a) => (a instanceof ActionAssertion ? a.actions : []))
    .find((a) => a.action === 'c2pa.created');
  const signer = manifest?.signature?.signatureData?.certificate?.subject;
  return {
    valid: result.isValid,
    failures: result.statusEntries.filter((e) => !e.success).map((e) => e.code),
    ...(signer && { signer }),
    ...(action?.digitalSourceType && { digitalSourceType: action.digitalSourceType }),
    ...(action?.softwareAgent?.name && { softwareAgent: action.softwareAgent.name }),
    ...(typeof action?.parameters?.description === 'string' && {
      description: action.parameters.description,
    }),
  };
}
