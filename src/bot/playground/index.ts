import { configuredPlatforms } from '../../config.js';
import type { AdapterEntry } from '../../contracts/adapter.js';

/** The ADAPTERS row: the playground runs when enabled, or on 'auto' when no platform token is set. */
export const playgroundEntry: AdapterEntry = {
  name: 'playground',
  enabled: (config) => configuredPlatforms(config).playground,
  howToEnable: 'set platforms.playground.enabled: true (it runs by itself when no platform token is set)',
  async create(app, start) {
    const { PlaygroundAdapter } = await import('./adapter.js');
    return new PlaygroundAdapter({
      config: app.config,
      log: app.log,
      commands: app.dispatcher.commands,
      settings: app.settings,
      banner: start?.banner,
    });
  },
};
