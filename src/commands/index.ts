import { helpCommand } from './help.js';
import { statusCommand } from './status.js';
import { tagsCommand } from './tags.js';
import type { AnyCommand } from './types.js';

/** Every command iris offers; adapters, /help and the CLI read this list. */
export const COMMANDS: readonly AnyCommand[] = [tagsCommand, statusCommand, helpCommand];
