#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../config.js';
import { isUserError, UserError } from '../errors.js';
import { DTYPE_PROFILES, type DtypeProfile } from '../models/files.js';
import { TASKS } from '../models/tasks.js';
import { configFrom, ExitCode, err, type ModelFlags, out } from './common.js';
import { jsonFlag, modelsFlag, wholeNumberAtLeast } from './flags.js';
import { addTaskCommands } from './tasks.js';

/**
 * `iris` — exit codes: 0 ok, 2 user error (one line `error: …` on stderr), 1 internal error. The image
 * and text commands are made from their command specs (tasks.ts); the rest are declared here.
 */

function dtypeProfile(value: string): DtypeProfile {
  if (!(DTYPE_PROFILES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected ${DTYPE_PROFILES.join(', ')}`);
  }
  return value as DtypeProfile;
}

export function buildProgram(): Command {
  const program = new Command('iris')
    .description('iris — a self-hosted multimodal bot for Discord and Slack')
    .option(
      '--config <file>',
      'YAML file layered over config/default.yaml (default: $IRIS_CONFIG or config/local.yaml)',
    )
    .option(
      '--verbose',
      'task commands also print their log lines on stderr (always in $IRIS_LOG_DIR when set)',
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('start')
    .description('Start the bot: every platform with credentials, else the local playground')
    .option(
      '--demo',
      'use the colour-world demo models (offline, seconds to start; chosen by itself when no platform token is set and no model is on disk)',
    )
    .option('--no-demo', 'never choose the demo models by itself')
    .addOption(modelsFlag())
    .action(async (flags: ModelFlags & { demo?: boolean }) => {
      const { startCli } = await import('./start.js');
      await startCli({ ...program.opts(), ...flags }, { out, err });
    });

  program
    .command('worker')
    .description(
      'Run backends for jobs from the Redis queue (scale-out; needs IRIS_REDIS_URL or queue.kind: redis)',
    )
    .requiredOption('--tasks <list>', 'task classes to serve: comma list of imagine, vision, llm')
    .option('--slots <n>', 'jobs run at once per task class (default: queue.slots)', wholeNumberAtLeast(1))
    .addOption(modelsFlag())
    .action(async (flags: ModelFlags & { tasks: string; slots?: number }) => {
      const { parseTaskClasses, workerCli } = await import('./worker.js');
      const tasks = parseTaskClasses(flags.tasks);
      const config = configFrom({ ...program.opts(), ...flags });
      await workerCli({ config, tasks, slots: flags.slots ?? config.queue.slots }, { out, err });
    });

  addTaskCommands(program);

  program
    .command('discord')
    .description('Discord: the invite link for your bot')
    .command('invite')
    .description('Print the link that adds the bot to a server, with the scopes and permissions iris needs')
    .action(async () => {
      const { applicationIdOf, inviteUrl } = await import('../bot/discord/invite.js');
      const config = configFrom(program.opts());
      out(inviteUrl(await applicationIdOf(config.platforms.discord)));
    });

  program
    .command('check')
    .description('Score images with the safety classifier (tasks.safety): classes, scores, flagged or safe')
    .argument('<image...>', 'image files')
    .option('--json', 'print {"file":…,"safe":…,"scores":{…}} per image')
    .action(async (images: string[], flags: ModelFlags & { json?: boolean }) => {
      const { checkCli } = await import('./check.js');
      await checkCli(configFrom({ ...program.opts(), ...flags }), images, { ...flags, out });
    });

  program
    .command('verify')
    .description('Read back the provenance iris wrote into a generated PNG (XMP, model, seed, prompt)')
    .argument('<file>', 'PNG file')
    .option('--json', 'print what was found as JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      const { verifyCli } = await import('./verify.js');
      const code = await verifyCli(file, { ...flags, out, err });
      if (code !== 0) throw new ExitCode(code);
    });

  program
    .command('doctor')
    .description('Check Node, onnxruntime providers, sharp, config, models, tokens (format only) and Redis')
    .addOption(modelsFlag())
    .action(async (flags: ModelFlags) => {
      const { doctorCli } = await import('./doctor.js');
      const code = await doctorCli({ ...program.opts(), ...flags }, { out });
      if (code !== 0) throw new ExitCode(code);
    });

  program
    .command('slack')
    .description('Slack app setup')
    .command('manifest')
    .description('Print a Slack app manifest (JSON) with the slash commands, shortcuts, scopes and events')
    .option('--url <base>', 'public base URL of the HTTP receiver (without it: Socket Mode)')
    .option('--name <name>', 'app and bot name', 'iris')
    .action(async (flags: { url?: string; name: string }) => {
      const { COMMANDS } = await import('../commands/index.js');
      const { slackManifest } = await import('../bot/slack/manifest.js');
      const config = configFrom(program.opts());
      if (flags.url !== undefined && !/^https?:\/\/[^/\s]+/.test(flags.url)) {
        throw new UserError(
          'bad_option',
          `--url must be an http(s) URL such as https://iris.example.com (got ${flags.url})`,
        );
      }
      const manifest = slackManifest({
        commands: COMMANDS,
        slashConfig: config.platforms.slack.commands,
        url: flags.url,
        name: flags.name,
      });
      out(JSON.stringify(manifest, null, 2));
    });

  const models = program.command('models').description('Model folders: pull, list, remove, synth');
  models
    .command('synth')
    .description('Write the colour-world test models (tiny ONNX graphs with the real layouts)')
    .requiredOption('--out <dir>', 'folder to write them into')
    .action(async (flags: { out: string }) => {
      const { synthAll } = await import('../demo/colourworld/index.js');
      await synthAll(flags.out);
      out(`colour-world models written to ${flags.out}`);
    });
  models
    .command('pull')
    .description(
      'Download the models the config uses (or the named tasks / model ids) from the Hugging Face hub',
    )
    .argument(
      '[targets...]',
      `task names (${Object.keys(TASKS).join(', ')}) or model ids; default: every configured model`,
    )
    .addOption(modelsFlag())
    .option('--yes', 'do not ask before downloading the configured models')
    .option('--dtype <profile>', 'fetch smaller or larger ONNX files: q8, fp16 or fp32', dtypeProfile)
    .action(async (targets: string[], flags: ModelFlags & { yes?: boolean; dtype?: DtypeProfile }) => {
      const { askYesNo, pullCli } = await import('./models.js');
      await pullCli(configFrom({ ...program.opts(), ...flags }), targets, {
        out,
        err,
        tty: process.stderr.isTTY,
        interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
        confirm: askYesNo,
        ...(flags.yes && { yes: true }),
        ...(flags.dtype && { dtype: flags.dtype }),
      });
    });
  models
    .command('list')
    .description('Configured model per task: where it is, size on disk, ready or not')
    .addOption(modelsFlag())
    .addOption(jsonFlag('JSON output'))
    .action(async (flags: ModelFlags & { json?: boolean }) => {
      const { listCli } = await import('./models.js');
      await listCli(configFrom({ ...program.opts(), ...flags }), { out, err, json: flags.json });
    });
  models
    .command('remove')
    .description('Delete downloaded model folders (task names or model ids)')
    .argument('<targets...>', 'task names or model ids')
    .addOption(modelsFlag())
    .action(async (targets: string[], flags: ModelFlags) => {
      const { removeCli } = await import('./models.js');
      await removeCli(configFrom({ ...program.opts(), ...flags }), targets, { out, err });
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof ExitCode) return e.code;
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander already printed the message
    if (e instanceof ConfigError || isUserError(e)) {
      err(`error: ${(e as Error).message}`);
      return 2;
    }
    err(`error: internal error: ${(e as Error)?.message ?? e}`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
