import type { AdapterEntry } from '../../contracts/adapter.js';

/** The ADAPTERS row: Discord runs when a bot token is configured. */
export const discordEntry: AdapterEntry = {
  name: 'discord',
  enabled: (config) => config.platforms.discord.token !== '',
  howToEnable: 'set DISCORD_TOKEN; `iris discord invite` prints the invite link',
  async create(app) {
    const { DiscordAdapter } = await import('./adapter.js');
    return new DiscordAdapter({
      config: app.config,
      log: app.log,
      commands: app.dispatcher.commands,
      settings: app.settings,
    });
  },
};
