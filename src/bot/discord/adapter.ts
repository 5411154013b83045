import { once } from 'node:events';
import {
  Client,
  DiscordjsErrorCodes,
  Events,
  GatewayIntentBits,
  type Interaction,
  type Message,
  MessageFlags,
  type OmitPartialGroupDMChannel,
  type PartialMessage,
  Partials,
  type RepliableInteraction,
} from 'discord.js';
import { type Config, ConfigError } from '../../config.js';
import type { AdapterHooks, PlatformAdapter } from '../../contracts/adapter.js';
import type { AnyCommand } from '../../contracts/command.js';
import type { BotRequest, ImageRef, Responder } from '../../contracts/request.js';
import { newRequestId } from '../../core/dispatch.js';
import type { Logger } from '../../core/log.js';
import type { SettingsStore } from '../../core/settings.js';
import { onMessage } from './messages.js';
import { NO_MENTIONS } from './payload.js';
import { MESSAGE_MENUS, syncCommands } from './registration.js';
import { altTextOnly, InteractionResponder } from './responder.js';
import {
  BUTTON_ID,
  conversationOf,
  type DiscordSettings,
  imageRef,
  imagesOf,
  PLATFORM,
  pressRefusal,
  refusal,
  slashArgs,
  userOf,
} from './translate.js';

export interface DiscordAdapterOptions {
  config: Config;
  log: Logger;
  commands: readonly AnyCommand[];
  settings: SettingsStore;
  /** Clock for interaction-token age (tests). */
  now?: () => number;
}

type Handle = (req: BotRequest, res: Responder) => Promise<void>;

/** Discord acks within 3 s: if dispatch has not deferred by then, the adapter does. */
const AUTO_DEFER_MS = 2000;

/**
 * Discord ⇄ BotRequest. Slash commands, the message context menus and button presses come in as
 * interactions; questions, mentions and uploads as messages. Everything goes to the one `handle`.
 */
export class DiscordAdapter implements PlatformAdapter {
  readonly name = 'discord';
  readonly #o: DiscordAdapterOptions;
  readonly #d: DiscordSettings;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  readonly #seen = new Set<string>();
  #client?: Client;
  #summary = '';

  constructor(options: DiscordAdapterOptions) {
    this.#o = options;
    this.#d = options.config.platforms.discord;
    this.#log = options.log.child({ platform: 'discord' });
  }

  get client(): Client | undefined {
    return this.#client;
  }

  describe(): string {
    return this.#summary;
  }

  #has = (name: string) => this.#o.commands.some((c) => c.name === name);

  async start(handle: Handle, hooks?: AdapterHooks): Promise<void> {
    const intents = [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.DirectMessages,
    ];
    if (this.#d.messageContent) intents.push(GatewayIntentBits.MessageContent);
    const client = new Client({
      intents,
      partials: [Partials.Channel, Partials.Message],
      rest: { api: this.#d.apiUrl },
      allowedMentions: NO_MENTIONS,
    });
    this.#client = client;
    client.on(Events.InteractionCreate, (i) => {
      this.#onInteraction(i, handle).catch((err) => this.#log.error({ err }, 'discord interaction failed'));
    });
    client.on(Events.MessageCreate, (m) => {
      this.#onMessage(m, handle).catch((err) => this.#log.error({ err }, 'discord message failed'));
    });
    if (hooks) {
      client.on(Events.MessageDelete, (m) => this.#onDelete([m], hooks));
      client.on(Events.MessageBulkDelete, (ms) => this.#onDelete([...ms.values()], hooks));
    }
    client.on(Events.Error, (err) => this.#log.error({ err }, 'discord client error'));
    const ready = once(client, Events.ClientReady);
    try {
      await client.login(this.#d.token);
    } catch (err) {
      await client.destroy();
      const code = (err as { code?: string }).code;
      if (code === DiscordjsErrorCodes.TokenInvalid) {
        throw new ConfigError(
          'Discord rejected the token (DISCORD_TOKEN): check it in the Developer Portal.',
        );
      }
      // discord.js reports the gateway's 4014 close as a plain Error from @discordjs/ws.
      if (code === DiscordjsErrorCodes.DisallowedIntents || /disallowed intents/i.test(String(err))) {
        throw new ConfigError(
          'Discord refused the MESSAGE_CONTENT intent: turn on "Message Content Intent" for the bot in the Developer Portal, or set platforms.discord.messageContent: false.',
        );
      }
      throw err;
    }
    await ready;
    const applicationId = client.application?.id ?? this.#d.applicationId;
    let registration: string[];
    try {
      registration = await syncCommands({
        rest: client.rest,
        applicationId,
        commands: this.#o.commands,
        guilds: this.#d.commandGuilds,
        dms: this.#d.dms === 'allow',
        log: this.#log,
      });
    } catch (err) {
      this.#log.error({ err }, 'discord command registration failed');
      registration = ['command registration failed (see the log)'];
    }
    const content = this.#d.messageContent
      ? 'message content on'
      : 'mentions only (no MESSAGE_CONTENT intent)';
    this.#summary = `connected as ${client.user?.tag} (application ${applicationId}); ${registration.join(', ')}; ${content}`;
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new Error('iris is stopping'));
    await this.#client?.destroy();
    this.#client = undefined;
  }

  async #onMessage(m: Message, handle: Handle): Promise<void> {
    if (this.#seen.has(m.id)) return; // a resumed session may replay events
    this.#seen.add(m.id);
    if (this.#seen.size > 1000) this.#seen.delete(this.#seen.values().next().value as string);
    if (!m.guildId && this.#d.dms === 'deny') return;
    await onMessage(m, {
      botId: this.#client?.user?.id ?? '',
      settings: this.#d,
      store: this.#o.settings,
      log: this.#log,
      has: this.#has,
      handle,
      signal: this.#stopping.signal,
    });
  }

  /**
   * Deleted messages (usually uncached: Partials.Message gives id, channel and guild) → the same link and
   * conversation key their requests had, so the core can forget what they carried.
   */
  #onDelete(messages: OmitPartialGroupDMChannel<Message | PartialMessage>[], hooks: AdapterHooks): void {
    for (const m of messages) {
      const e = { conversation: conversationOf(m.channelId, m.channel), link: m.url };
      hooks.messageDeleted(e).catch((err) => this.#log.warn({ err }, 'discord: message delete hook failed'));
    }
  }

  #responder(
    i: RepliableInteraction,
    menu?: { ephemeral: boolean; altTextOnly: boolean },
  ): InteractionResponder {
    return new InteractionResponder(i, {
      log: this.#log.child({ interaction: i.id }),
      now: this.#o.now ?? Date.now,
      progressIntervalMs: this.#d.progressIntervalSeconds * 1000,
      uploadLimit: this.#d.uploadLimitBytes,
      forceEphemeral: menu?.ephemeral,
      transform: menu?.altTextOnly ? altTextOnly : undefined,
    });
  }

  async #onInteraction(i: Interaction, handle: Handle): Promise<void> {
    if (!i.isRepliable()) return;
    const user = userOf(i.user, i.memberPermissions, this.#d);
    let command: string;
    let args: Record<string, unknown> = {};
    let images: ImageRef[] = [];
    let menu: (typeof MESSAGE_MENUS)[number] | undefined;
    // Slash commands have no user message (the reply's URL would cost a fetch): no link there.
    let messageLink: string | undefined;
    if (i.isChatInputCommand()) {
      command = i.commandName;
      ({ args, images } = slashArgs(
        i,
        this.#o.commands.find((c) => c.name === command),
      ));
    } else if (i.isMessageContextMenuCommand()) {
      menu = MESSAGE_MENUS.find((m) => m.name === i.commandName);
      if (!menu) return;
      command = menu.command;
      const target = i.targetMessage;
      images = imagesOf(target.attachments).map((a) => imageRef(a, target.author.id));
      messageLink = i.targetMessage.url;
      if (!images.length) {
        await i.reply({
          content: 'That message has no image.',
          flags: MessageFlags.Ephemeral,
          allowedMentions: NO_MENTIONS,
        });
        return;
      }
    } else if (i.isButton()) {
      const m = BUTTON_ID.exec(i.customId);
      if (!m) return;
      command = m[1] as string;
      args = { button: i.customId };
      const note = pressRefusal(i, user, m[2] as string);
      if (note) {
        await i.reply({ content: note, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
        return;
      }
    } else {
      return;
    }
    const refused = refusal(this.#d, i.guildId, command);
    if (refused) {
      await i.reply({ content: refused, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS });
      return;
    }
    const res = this.#responder(i, menu);
    const autoDefer = setTimeout(() => {
      res.defer().catch((err) => this.#log.warn({ err }, 'discord auto-defer failed'));
    }, AUTO_DEFER_MS);
    try {
      await handle(
        {
          id: newRequestId(),
          platform: PLATFORM,
          command,
          args,
          images,
          conversation: conversationOf(i.channelId ?? '', i.channel),
          ...(messageLink && { messageLink }),
          user,
          signal: this.#stopping.signal,
        },
        res,
      );
    } finally {
      clearTimeout(autoDefer);
    }
  }
}
