import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { type C2paReport, readC2pa } from '../core/provenance/c2pa.js';
import { readPngText } from '../core/provenance/png-text.js';
import {
  readXmp,
  TRAINED_ALGORITHMIC_MEDIA,
  XMP_PNG_KEYWORD,
  type XmpFacts,
} from '../core/provenance/xmp.js';
import { UserError } from '../errors.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface VerifyResult {
  file: string;
  /** The file says it was made by iris. */
  iris: boolean;
  /** IPTC digital source type trainedAlgorithmicMedia: marked as made by a trained model. */
  aiGenerated: boolean;
  digitalSourceType?: string;
  generator?: string;
  model?: string;
  seed?: number;
  prompt?: string;
  /** The AUTOMATIC1111-style `parameters` text. */
  parameters?: string;
}

/** What iris wrote into a PNG it generated: the provenance XMP and the parameters text. */
export function verifyPng(file: string, png: Buffer): VerifyResult {
  if (png.length < 8 || !png.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new UserError('bad_image', `${basename(file)} is not a PNG file (iris writes PNG).`);
  }
  const text = readPngText(png);
  const xmpText = text[XMP_PNG_KEYWORD];
  let xmp: XmpFacts = {};
  if (xmpText) {
    try {
      xmp = readXmp(xmpText);
    } catch (cause) {
      throw new UserError('bad_image', `${basename(file)} has an XMP packet that is not valid XML.`, {
        cause,
      });
    }
  }
  const generator = xmp.iris?.generator ?? xmp.creatorTool ?? text.Software;
  return {
    file,
    iris: generator === 'iris',
    aiGenerated: xmp.digitalSourceType === TRAINED_ALGORITHMIC_MEDIA,
    ...(xmp.digitalSourceType && { digitalSourceType: xmp.digitalSourceType }),
    ...(generator && { generator }),
    ...((xmp.iris?.model ?? xmp.aiSystemUsed) && { model: xmp.iris?.model ?? xmp.aiSystemUsed }),
    ...(xmp.iris?.seed !== undefined && { seed: xmp.iris.seed }),
    ...(xmp.prompt !== undefined && { prompt: xmp.prompt }),
    ...(text.parameters !== undefined && { parameters: text.parameters }),
  };
}

/** The signed C2PA manifest, validated (undefined: none); a broken one is reported, not thrown. */
async function c2paOf(png: Buffer): Promise<C2paReport | undefined> {
  try {
    return await readC2pa(png);
  } catch (err) {
    return { valid: false, failures: [`unreadable: ${(err as Error).message}`] };
  }
}

/**
 * `iris verify FILE`: reads back the provenance iris wrote (XMP digital source type, generator, model,
 * seed, prompt, parameters) and validates its C2PA manifest when there is one (signature, pixel hash).
 * Exit 0 when the file carries iris's provenance and any manifest validates, 2 otherwise.
 */
export async function verifyCli(
  file: string,
  opts: { json?: boolean; out: (line: string) => void; err: (line: string) => void },
): Promise<number> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new UserError(
      'bad_image',
      `Cannot read ${basename(file)}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}.`,
      {
        cause,
      },
    );
  }
  const c2pa = await c2paOf(bytes);
  const result = { ...verifyPng(file, bytes), ...(c2pa && { c2pa }) };
  const found = result.iris && result.aiGenerated;
  if (opts.json) opts.out(JSON.stringify(result));
  else if (found) {
    opts.out(`${file}: made by iris, marked AI-generated (IPTC digital source type trainedAlgorithmicMedia)`);
    if (c2pa) {
      opts.out(
        c2pa.valid
          ? `  C2PA:   signed manifest valid (signer ${c2pa.signer ?? 'unknown'}; pixels unchanged since signing)`
          : `  C2PA:   INVALID (${c2pa.failures.join(', ')})`,
      );
    }
    if (result.model) opts.out(`  model:  ${result.model}`);
    if (result.seed !== undefined) opts.out(`  seed:   ${result.seed}`);
    if (result.prompt !== undefined) opts.out(`  prompt: ${result.prompt}`);
    if (result.parameters) opts.out(`  parameters:\n    ${result.parameters.split('\n').join('\n    ')}`);
  }
  if (found && c2pa && !c2pa.valid) {
    opts.err(
      `error: ${basename(file)} has changed since iris signed it (C2PA: ${c2pa.failures.join(', ')}).`,
    );
    return 2;
  }
  if (!found) {
    opts.err(
      `error: ${basename(file)} carries no provenance from iris${result.parameters ? ' (only a parameters text, which anyone can write)' : ''}.`,
    );
    return 2;
  }
  return 0;
}
