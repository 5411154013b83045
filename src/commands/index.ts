import { alttextCommand } from './alttext.js';
import { helpCommand } from './help.js';
import { statusCommand } from './status.js';
import { tagsCommand } from './tags.js';
import type { AnyCommand } from './types.js';

/**
 * Every command iris offers; adapters, /help and the CLI read this list. Each issue adds its commands at
 * its placeholder so parallel work merges cleanly.
 */
export const COMMANDS: readonly AnyCommand[] = [
  tagsCommand,

  // caption, ask, read, compare, forget (issue 4)

  // imagine (issue 5)

  alttextCommand,

  statusCommand,
  helpCommand,
];
