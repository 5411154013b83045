import type { AnyCommand } from '../contracts/command.js';
import { alttextCommand } from './alttext.js';
import { askCommand } from './ask.js';
import { captionCommand } from './caption.js';
import { compareCommand } from './compare.js';
import { findCommand } from './find.js';
import { forgetCommand } from './forget.js';
import { helpCommand } from './help.js';
import { imagineCommand } from './imagine.js';
import { privacyCommand } from './privacy.js';
import { readCommand } from './read.js';
import { similarCommand } from './similar.js';
import { statusCommand } from './status.js';
import { tagsCommand } from './tags.js';

/**
 * Every command iris offers: the app hands this list to the dispatcher and to the adapters
 * (registration, forms); /help and the CLI read it.
 */
export const COMMANDS: readonly AnyCommand[] = [
  tagsCommand,

  captionCommand,
  readCommand,
  askCommand,
  compareCommand,
  forgetCommand,
  privacyCommand,

  imagineCommand,

  alttextCommand,

  similarCommand,
  findCommand,

  statusCommand,
  helpCommand,
];
