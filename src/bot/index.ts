import type { App } from '../app.js';
import { type Config, ConfigError } from '../config.js';
import type { PlatformAdapter } from '../contracts/adapter.js';
import { discordEntry } from './discord/index.js';
import { playgroundEntry } from './playground/index.js';

/** A notice for the people using iris (the playground shows it above its messages). */
export interface PageBanner {
  title: string;
  lines: string[];
  /** The one command that fixes what the banner is about. */
  command: string;
}

/** What `iris start` hands an adapter beside the app. */
export interface StartContext {
  banner?: PageBanner;
}

/** What `iris start` needs to know about one platform adapter. */
export interface AdapterEntry {
  name: string;
  /** Whether config asks for this adapter (credentials present, or enabled). */
  enabled(config: Config): boolean;
  /** One line for the start-up block when the adapter is off: how to turn it on. */
  howToEnable: string;
  /** Loaded lazily so an unused platform library costs nothing. */
  create(app: App, start?: StartContext): Promise<PlatformAdapter & { describe?(): string }>;
}

/**
 * Every platform adapter `iris start` knows, in start order. Each adapter issue adds its row at its
 * placeholder. The console channel is the fallback when nothing else runs (see src/cli/start.ts).
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
