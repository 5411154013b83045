/**
 * Provenance of generated images, in the file itself: an XMP packet (PNG iTXt chunk
 * `XML:com.adobe.xmp`, where exiftool, Photoshop and browsers' metadata readers look) that says the
 * picture was made by a trained model — IPTC's digital source type `trainedAlgorithmicMedia`, the
 * machine-readable label that platforms and search engines read for AI-generated images — and by what:
 * iris, the model id, the seed, and the prompt (IPTC `AISystemUsed`, `AIPromptInformation`).
 *
 * Nothing time-dependent goes in: the same seed and options still give byte-identical files.
 */
import { basename, isAbsolute } from 'node:path';
import { XMLParser } from 'fast-xml-parser';

export const TRAINED_ALGORITHMIC_MEDIA =
  'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';
/** PNG keyword of the XMP iTXt chunk (XMP specification part 3). */
export const XMP_PNG_KEYWORD = 'XML:com.adobe.xmp';
const IRIS_NS = 'https://iris.invalid/ns/provenance/1.0/';

export interface Provenance {
  /** The program that made it ("iris"). */
  generator: string;
  /** Model id (e.g. onnxruntime/sd-turbo) or folder name. */
  model: string;
  seed: number;
  prompt: string;
}

/** A model id as files may carry it: a folder path is cut to its last part (no local paths in files). */
export function publicModelName(model: string): string {
  const looksLikePath = isAbsolute(model) || model.startsWith('.') || model.includes('\\');
  return looksLikePath ? basename(model.replace(/[\\/]+$/, '')) : model;
}

function escapeXml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 cannot carry these characters.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

/** The XMP packet for a generated image. */
export function provenanceXmp(p: Provenance): string {
  const attr = (name: string, value: string | number) => `\n      ${name}="${escapeXml(String(value))}"`;
  return [
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    '  <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    `    <rdf:Description rdf:about=""
      xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
      xmlns:xmp="http://ns.adobe.com/xap/1.0/"
      xmlns:iris="${IRIS_NS}"${attr('Iptc4xmpExt:DigitalSourceType', TRAINED_ALGORITHMIC_MEDIA)}${attr(
        'Iptc4xmpExt:AISystemUsed',
        p.model,
      )}${attr('Iptc4xmpExt:AIPromptInformation', p.prompt)}${attr('xmp:CreatorTool', p.generator)}${attr(
        'iris:Generator',
        p.generator,
      )}${attr('iris:Model', p.model)}${attr('iris:Seed', p.seed)}/>`,
    '  </rdf:RDF>',
    '</x:xmpmeta>',
    '<?xpacket end="r"?>',
  ].join('\n');
}

export interface XmpFacts {
  digitalSourceType?: string;
  creatorTool?: string;
  aiSystemUsed?: string;
  prompt?: string;
  iris?: { generator?: string; model?: string; seed?: number };
}

/**
 * Reads the properties iris writes from any XMP packet (attribute or element form, any prefixes: the
 * namespace URIs decide), as an XML parser does — not by matching iris's own layout.
 */
export function readXmp(xmp: string): XmpFacts {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    parseTagValue: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
  const doc = parser.parse(xmp) as Record<string, unknown>;
  const facts: XmpFacts = {};
  const iris: NonNullable<XmpFacts['iris']> = {};
  const visit = (node: unknown, ns: Record<string, string>): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n, ns);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const entries = Object.entries(node as Record<string, unknown>);
    const scope = { ...ns };
    for (const [k, v] of entries) if (k.startsWith('xmlns:')) scope[k.slice(6)] = String(v);
    for (const [k, v] of entries) {
      const [prefix, local] = k.includes(':') ? k.split(':', 2) : ['', k];
      const uri = scope[prefix as string];
      const text =
        typeof v === 'string' || typeof v === 'number' ? String(v) : (v as { '#text'?: string })?.['#text'];
      if (text !== undefined) {
        if (uri === 'http://iptc.org/std/Iptc4xmpExt/2008-02-29/') {
          if (local === 'DigitalSourceType') facts.digitalSourceType = text;
          if (local === 'AISystemUsed') facts.aiSystemUsed = text;
          if (local === 'AIPromptInformation') facts.prompt = text;
        } else if (uri === 'http://ns.adobe.com/xap/1.0/' && local === 'CreatorTool')
          facts.creatorTool = text;
        else if (uri === IRIS_NS) {
          if (local === 'Generator') iris.generator = text;
          if (local === 'Model') iris.model = text;
          if (local === 'Seed' && /^\d+$/.test(text)) iris.seed = Number(text);
        }
      }
      if (typeof v === 'object') visit(v, scope);
    }
  };
  visit(doc, {});
  if (Object.keys(iris).length) facts.iris = iris;
  return facts;
}
