/**
 * A fake Hugging Face hub (node:http on 127.0.0.1) speaking the routes @huggingface/hub calls:
 *   GET /api/models/<org>/<name>/tree/<rev>?recursive=…   → [{type, path, size, oid, lfs?}]
 *   GET /<org>/<name>/resolve/<rev>/<path>                 → the bytes, with x-linked-size / x-linked-etag /
 *       x-repo-commit / etag headers like the real hub, Range → 206 + Content-Range.
 * Files ending in .onnx are served as LFS files (sha256 oid), others as plain git blobs (sha1 oid).
 * Faults for tests: drop the connection after N bytes of a file (once), serve corrupt bytes, require a token.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface FakeHubFile {
  path: string;
  bytes: Buffer;
  lfs: boolean;
}

export interface FakeHubRequest {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export interface FakeHub {
  url: string;
  requests: FakeHubRequest[];
  /** The next GET of this file (without Range, or with) stops after `bytes` bytes, connection destroyed. */
  dropAfter(path: string, bytes: number): void;
  /** The next full download of this file has one byte flipped (the listed hash stays the real one). */
  corrupt(path: string): void;
  close(): Promise<void>;
}

export interface FakeHubOptions {
  /** model id → its files */
  repos: Record<string, FakeHubFile[]>;
  /** When set, requests without `Authorization: Bearer <token>` get 401. */
  token?: string;
}

/** Reads a folder (e.g. a colour-world model) into the file list the fake serves. */
export async function repoFromFolder(dir: string): Promise<FakeHubFile[]> {
  const out: FakeHubFile[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push({ path: relative(dir, p), bytes: await readFile(p), lfs: e.name.endsWith('.onnx') });
    }
  };
  await walk(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const COMMIT = 'c0ffee0000000000000000000000000000000000';

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const requests: FakeHubRequest[] = [];
  const drops = new Map<string, number>();
  const corrupted = new Set<string>();

  const find = (repo: string, path: string) => options.repos[repo]?.find((f) => f.path === path);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    requests.push({
      method: req.method ?? 'GET',
      url: url.pathname,
      ...(req.headers.range && { range: req.headers.range }),
      ...(req.headers.authorization && { authorization: req.headers.authorization }),
    });
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      return json(res, 401, { error: 'Invalid credentials in Authorization header' });
    }
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(url.pathname);
    if (tree) {
      const files = options.repos[decodeURIComponent(tree[1] as string)];
      if (!files)
        return json(res, 404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
      const dirs = new Set(
        files.flatMap((f) =>
          f.path
            .split('/')
            .slice(0, -1)
            .map((_, i, a) => a.slice(0, i + 1).join('/')),
        ),
      );
      return json(res, 200, [
        ...[...dirs].map((d) => ({
          type: 'directory',
          path: d,
          size: 0,
          oid: sha256(Buffer.from(d)).slice(0, 40),
        })),
        ...files.map((f) => ({
          type: 'file',
          path: f.path,
          // LFS entries list the pointer file's size and oid, like the real hub.
          size: f.lfs ? 134 : f.bytes.length,
          oid: f.lfs ? gitSha1(Buffer.from(`lfs pointer ${sha256(f.bytes)}`)) : gitSha1(f.bytes),
          ...(f.lfs && { lfs: { oid: sha256(f.bytes), size: f.bytes.length, pointerSize: 134 } }),
        })),
      ]);
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!resolve) return json(res, 404, { error: 'Not found' });
    const repo = decodeURIComponent(resolve[1] as string);
    const path = decodeURIComponent(resolve[3] as string);
    if (!options.repos[repo])
      return json(res, 404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
    const file = find(repo, path);
    if (!file) return json(res, 404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });

    let bytes = file.bytes;
    if (corrupted.has(path) && req.headers.range !== 'bytes=0-0') {
      corrupted.delete(path);
      bytes = Buffer.from(bytes);
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
    }
    const etag = `"${file.lfs ? sha256(file.bytes) : gitSha1(file.bytes)}"`;
    const headers: Record<string, string> = {
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      etag,
      'x-repo-commit': COMMIT,
      ...(file.lfs && { 'x-linked-size': String(file.bytes.length), 'x-linked-etag': etag }),
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = bytes.length - 1;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
        return res.end();
      }
      headers['content-range'] = `bytes ${start}-${end}/${bytes.length}`;
    }
    const body = bytes.subarray(start, end + 1);
    headers['content-length'] = String(body.length);
    res.writeHead(range ? 206 : 200, headers);
    const drop = drops.get(path);
    // The 1-byte probe (Range: bytes=0-0) that fileDownloadInfo sends is never dropped.
    if (drop !== undefined && body.length > 1) {
      drops.delete(path);
      res.write(body.subarray(0, drop), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(body);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    dropAfter: (path, bytes) => drops.set(path, bytes),
    corrupt: (path) => corrupted.add(path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
