/**
 * Secret redaction by shape, for text that leaves iris without the config at hand (error messages shown
 * in chat, exception messages from SDKs). The logger also scrubs the configured secret values themselves
 * (src/core/log.ts); this catches a key that is not configured — a wrong key echoed back by an API, a
 * token pasted into a URL.
 */

export const REDACTED = '[redacted]';

/** Token formats iris meets: Slack (xoxb-/xoxp-/xapp-…), Groq (gsk_…), Hugging Face (hf_…), OpenAI (sk-…), Discord. */
const TOKEN_SHAPES = [
  /\bxox[abeoprs]-[A-Za-z0-9-]{6,}/g,
  /\bxapp-[A-Za-z0-9-]{6,}/g,
  /\bgsk_[A-Za-z0-9_]{6,}/g,
  /\bhf_[A-Za-z0-9_]{6,}/g,
  /\bsk-[A-Za-z0-9_-]{16,}/g,
  // Discord bot tokens: base64 user id . timestamp . HMAC
  /\b[MNO][A-Za-z\d_-]{20,30}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,38}\b/g,
];
/** `Authorization: Bearer …`, `Bot …` (Discord). */
const AUTH_HEADER = /\b(Bearer|Bot)\s+[A-Za-z0-9._~+/=-]{8,}/g;
/** Query parameters that carry credentials (signed CDN links, HF_TOKEN in a URL). */
const SECRET_PARAMS =
  /([?&](?:token|access_token|api_key|apikey|key|sig|signature|x-amz-signature|auth)=)[^&#\s"']*[^&#\s"'.,;:)]/gi;
/** `https://user:password@host` */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s:]+:[^/@\s]+@/gi;

/**
 * A secret as it may come back from an upstream: as is, percent-encoded (upper or lower case hex, as
 * encodeURIComponent or a form body writes it), or with JSON's escaped slashes.
 */
function writtenForms(secret: string): Set<string> {
  const encoded = encodeURIComponent(secret);
  return new Set([
    secret,
    encoded,
    encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
    new URLSearchParams({ s: secret }).toString().slice(2),
    secret.replaceAll('/', '\\/'),
  ]);
}

/**
 * `text` with credentials replaced by [redacted]: the given secret values wherever they appear (also
 * URL-encoded), then anything shaped like a token, a bearer header, a credential query parameter or URL
 * user info.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 6) continue;
    for (const form of writtenForms(secret)) out = out.split(form).join(REDACTED);
  }
  for (const shape of TOKEN_SHAPES) out = out.replace(shape, REDACTED);
  return out
    .replace(AUTH_HEADER, `$1 ${REDACTED}`)
    .replace(SECRET_PARAMS, `$1${REDACTED}`)
    .replace(URL_USERINFO, `$1${REDACTED}@`);
}
