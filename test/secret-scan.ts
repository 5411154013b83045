/**
 * The secret scan of a test run: looks for every value of test/fakes/secrets.ts (and its URL-encoded and
 * base64 forms) in a folder of logs, line by line. Used by test/run.ts after `node --test`; unit-tested
 * with planted secrets in test/hardening/security-scan.test.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Finding {
  file: string;
  line: number;
  secret: string;
  /** The line, with the secret itself masked (the report must not leak it either). */
  excerpt: string;
}

/** The forms a secret may take on the way into a log: as is, URL-encoded, in base64. */
function needles(value: string): string[] {
  return [...new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')])];
}

export function scanText(
  text: string,
  secrets: readonly (readonly [string, string])[],
  file = '(text)',
): Finding[] {
  const findings: Finding[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    for (const [name, value] of secrets) {
      for (const needle of needles(value)) {
        if (!line.includes(needle)) continue;
        const at = line.indexOf(needle);
        const excerpt = `${line.slice(Math.max(0, at - 60), at)}<${name}>${line.slice(at + needle.length, at + needle.length + 60)}`;
        findings.push({ file, line: i + 1, secret: name, excerpt });
      }
    }
  }
  return findings;
}

export interface ScanResult {
  files: number;
  lines: number;
  findings: Finding[];
}

/** Scans every file under `dir` (recursively). */
export function scanDir(dir: string, secrets: readonly (readonly [string, string])[]): ScanResult {
  const result: ScanResult = { files: 0, lines: 0, findings: [] };
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const text = readFileSync(path, 'utf8');
    result.files += 1;
    result.lines += text.split('\n').length - 1;
    result.findings.push(...scanText(text, secrets, relative(dir, path)));
  }
  return result;
}
