/**
 * The corners of the RGB cube as named colours (RGB in 0…1): the colour world's vocabulary, and the names
 * the built-in `colour` image safety classifier sorts pixels into.
 */
export const COLOURS: Record<string, [number, number, number]> = {
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0, 0, 1],
  yellow: [1, 1, 0],
  cyan: [0, 1, 1],
  magenta: [1, 0, 1],
  black: [0, 0, 0],
  white: [1, 1, 1],
};
