import { ConfigError } from '../config.js';
import type { AdapterEntry } from '../contracts/adapter.js';
import { discordEntry } from './discord/index.js';
import { playgroundEntry } from './playground/index.js';

/**
 * Every platform adapter `iris start` knows, in start order. The console channel is the fallback when
 * nothing else runs (see src/cli/start.ts).
 */
export const ADAPTERS: readonly AdapterEntry[] = [
  discordEntry,
  {
    name: 'slack',
    enabled: (config) => config.platforms.slack.botToken !== '',
    howToEnable: 'set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN for Socket Mode',
    async create(app) {
      const { SlackAdapter } = await import('./slack/adapter.js');
      const slack = app.config.platforms.slack;
      if (slack.appToken === '' && slack.signingSecret === '') {
        throw new ConfigError(
          'Slack needs SLACK_SIGNING_SECRET (HTTP events) or SLACK_APP_TOKEN (Socket Mode) beside SLACK_BOT_TOKEN',
        );
      }
      return new SlackAdapter({
        slack,
        commands: app.dispatcher.commands,
        log: app.log,
        settings: app.settings,
      });
    },
  },
  playgroundEntry,
];
