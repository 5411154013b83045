/**
 * SD 1.5 latent → RGB factors (rows: latent channels; columns: R, G, B): the linear stand-in for the VAE
 * decoder that step previews use. The colour world's SD is built so that they hold for it too.
 */
export const LATENT_RGB_FACTORS: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];
