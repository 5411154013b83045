/**
 * Imported first by every hardening test file: points TMPDIR (os.tmpdir(), libvips, onnxruntime) at a
 * folder of this test process alone, so "no temp file left behind" is checked on a folder no other test
 * or session writes to. Each test file runs in its own process under node --test; the folder goes when
 * the process exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SYSTEM_TMP = tmpdir();
export const PRIVATE_TMP = mkdtempSync(join(SYSTEM_TMP, 'iris-hardening-tmp-'));
process.env.TMPDIR = PRIVATE_TMP;
process.on('exit', () => rmSync(PRIVATE_TMP, { recursive: true, force: true }));
