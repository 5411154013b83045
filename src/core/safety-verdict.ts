/**
 * Turns a classifier's scores into a verdict: an image is flagged when the scores of the configured
 * classes (`safety.classes`, default Porn, Hentai and Sexy of nsfwjs) add up to `safety.threshold` or
 * more. Summing keeps an image that is split between two unsafe classes from slipping under the bar.
 * Pure functions.
 */

export interface SafetyPolicy {
  /** Classes whose scores count towards flagging; names as the classifier reports them. */
  classes: readonly string[];
  /** 0–1: flagged at this summed score or more. */
  threshold: number;
}

export interface SafetyVerdict {
  flagged: boolean;
  /** Summed score of the policy's classes. */
  score: number;
  /** The flagged classes present in the scores, highest first (for the log, never shown to users). */
  classes: string[];
}

export function judge(scores: Readonly<Record<string, number>>, policy: SafetyPolicy): SafetyVerdict {
  const wanted = new Set(policy.classes.map((c) => c.toLowerCase()));
  const hits = Object.entries(scores)
    .filter(([name]) => wanted.has(name.toLowerCase()))
    .sort((a, b) => b[1] - a[1]);
  const score = hits.reduce((sum, [, s]) => sum + s, 0);
  return { flagged: score >= policy.threshold, score, classes: hits.map(([name]) => name) };
}

/** Scores rounded for output (4 decimals), largest first. */
export function roundedScores(scores: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(scores)
      .sort((a, b) => b[1] - a[1])
      .map(([name, s]) => [name, Math.round(s * 10_000) / 10_000]),
  );
}
