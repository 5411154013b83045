/** What a valid iris config is (config.ts loads one and checks it against this schema). */
import { z } from 'zod';
import type { TaskName } from './contracts/backend.js';
import { type TaskTable, taskConfigIssues } from './models/table.js';
import { TASKS } from './models/tasks.js';

/** Hosts that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Shortest playground access token (required when it listens beyond this machine). */
const MIN_ACCESS_TOKEN = 16;

/**
 * The config schema. Defaults live only in config/default.yaml (which documents every key);
 * this schema says what a valid value is. Unknown keys are errors, so typos do not pass silently.
 */
const quota = z.strictObject({ jobs: z.number().int().min(0), windowSeconds: z.number().int().positive() });
const port = z.number().int().min(0).max(65535);
const imageFormat = z.enum(['png', 'jpeg', 'webp', 'gif']);
/** Slack slash-command names: lower case, digits, - and _, at most 32 characters with the slash. */
const slackCommandName = z
  .string()
  .regex(/^[a-z0-9_-]{1,31}$/, 'lower-case letters, digits, - or _ (at most 31)');

const taskSchema = z.strictObject({
  backend: z.string().min(1),
  model: z.string().min(1),
  options: z.record(z.string(), z.unknown()),
});

const imagineModel = z.strictObject({
  id: z.string().min(1),
  steps: z.number().int().min(1).max(255),
  maxSteps: z.number().int().min(1).max(255),
  guidance: z.number().min(0).max(25),
  scheduler: z.enum(['euler', 'euler_a', 'lms', 'ddim', 'pndm']).optional(),
});

const imagineSchema = taskSchema
  .extend({
    models: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,19}$/), imagineModel),
    size: z.string().regex(/^\d+x\d+$/),
    limits: z.strictObject({
      maxSide: z.number().int().min(64).max(4096),
      maxPixels: z.number().int().min(4096),
      maxCount: z.number().int().min(1).max(4),
      memoryMB: z.number().int().min(0),
    }),
    blocklist: z.array(z.string().min(1).max(100)),
    blocklistExtra: z.array(z.string().min(1).max(100)),
    previewEvery: z.number().int().min(0),
    strength: z.number().min(0.05).max(1),
    buttonTtlSeconds: z.number().int().min(60),
  })
  .refine((c) => Object.values(c.models).some((m) => m.id === c.model), {
    message: 'tasks.imagine.model must be the id of one of tasks.imagine.models',
    path: ['model'],
  });

/** The config schema against a task table (the demo adds backends of its own, e.g. the colour classifier). */
export function configSchemaFor(table: TaskTable) {
  return z.strictObject({
    log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']) }),
    models: z.strictObject({
      dir: z.string().min(1),
      offline: z.boolean(),
      executionProviders: z.array(z.enum(['cpu', 'cuda', 'dml', 'coreml', 'webgpu'])).min(1),
    }),
    tasks: z
      .strictObject({
        tag: taskSchema.extend({
          labels: z.array(z.string().min(1).max(100)).min(1).max(200),
          topK: z.number().int().min(1).max(50),
        }),
        caption: taskSchema,
        vqa: taskSchema,
        read: taskSchema,
        imagine: imagineSchema,
        embed: taskSchema,
        find: taskSchema,
        safety: taskSchema,
      })
      // Each task's backend must exist and its options pass that backend's schema (src/models/options.ts).
      .superRefine((tasks, ctx) => {
        for (const [task, configured] of Object.entries(tasks)) {
          for (const issue of taskConfigIssues(task as TaskName, configured, table))
            ctx.addIssue({ ...issue });
        }
      }),
    memory: z.strictObject({
      store: z.enum(['sqlite', 'memory', 'redis']),
      path: z.string().min(1),
      maxTurns: z.number().int().min(1).max(200),
      ttlSeconds: z.number().int().positive(),
    }),
    queue: z.strictObject({
      kind: z.enum(['memory', 'redis']),
      url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL'),
      prefix: z.string().min(1),
      attempts: z.number().int().min(1).max(20),
      maxStalls: z.number().int().min(0).max(20),
      stalledSeconds: z.number().positive(),
      inlineBytes: z.number().int().min(0),
      localWorkers: z.array(z.enum(['imagine', 'vision', 'llm'])),
      slots: z.number().int().min(1).max(64),
    }),
    imageIndex: z.strictObject({
      channels: z.array(z.string().min(1)),
      maxPerChannel: z.number().int().min(1).max(1_000_000),
      ttlSeconds: z.number().int().positive(),
      topK: z.number().int().min(1).max(20),
      duplicates: z.strictObject({
        channels: z.array(z.string().min(1)),
        maxBits: z.number().int().min(0).max(64),
        minSimilarity: z.number().min(-1).max(1),
      }),
    }),
    altText: z.strictObject({
      maxLength: z.number().int().min(20).max(1024),
      label: z.string().max(60),
      language: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a language tag such as en or pt-BR'),
    }),
    safety: z.strictObject({
      classes: z.array(z.string().min(1).max(60)).min(1),
      threshold: z.number().min(0).max(1),
      imagine: z.strictObject({
        mode: z.enum(['off', 'blocklist', 'classifier']),
        action: z.enum(['block', 'spoiler']),
      }),
      uploads: z.enum(['off', 'flag']),
    }),
    provenance: z.strictObject({
      c2pa: z.strictObject({
        enabled: z.boolean(),
        certificate: z.string(),
        key: z.string(),
        credentialsDir: z.string().min(1),
      }),
    }),
    answers: z.strictObject({ lowConfidence: z.number().min(0).max(1) }),
    scheduler: z.strictObject({
      queues: z.record(
        z.string(),
        z.strictObject({
          maxConcurrent: z.number().int().min(1).max(64),
          perUserSlots: z.number().int().min(1).max(64).optional(),
        }),
      ),
      batching: z.strictObject({
        enabled: z.boolean(),
        windowMs: z.number().min(0).max(10_000),
        maxBatch: z.number().int().min(1).max(1024),
      }),
      highWater: z.number().int().min(0),
      perUserConcurrent: z.number().int().min(1),
      perUser: quota,
      perChannel: quota,
      jobTimeoutSeconds: z.number().positive(),
      shutdownGraceSeconds: z.number().min(0),
    }),
    media: z.strictObject({
      maxBytes: z.number().int().positive(),
      maxPixels: z.number().int().positive(),
      formats: z.array(imageFormat).min(1),
      allowHosts: z.array(z.string().min(1)),
      fetchTimeoutSeconds: z.number().positive(),
    }),
    platforms: z.strictObject({
      discord: z.strictObject({
        token: z.string(),
        apiUrl: z.url(),
        applicationId: z.union([z.literal(''), z.string().regex(/^\d{15,21}$/)]),
        commandGuilds: z.array(z.string().regex(/^\d{15,21}$/)),
        messageContent: z.boolean(),
        dms: z.enum(['allow', 'deny']),
        guilds: z.record(
          z.string().regex(/^\d{15,21}$/),
          z.strictObject({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).optional() }),
        ),
        altTextChannels: z.array(z.string().regex(/^\d{15,21}$/)),
        admins: z.array(z.string().regex(/^\d{15,21}$/)),
        progressIntervalSeconds: z.number().min(0).max(60),
        uploadLimitBytes: z.number().int().positive(),
      }),
      slack: z.strictObject({
        botToken: z.string(),
        signingSecret: z.string(),
        appToken: z.string(),
        apiUrl: z.url(),
        port,
        commands: z.strictObject({
          prefix: slackCommandName.or(z.literal('')),
          rename: z.record(z.string(), slackCommandName),
          umbrella: slackCommandName.or(z.literal('')),
        }),
        altText: z.strictObject({ channels: z.array(z.string().min(1)) }),
      }),
      playground: z
        .strictObject({
          enabled: z.union([z.boolean(), z.literal('auto')]),
          host: z.string().min(1),
          port,
          allowRemote: z.boolean(),
          accessToken: z.string(),
          publicNames: z.array(
            z
              .string()
              .regex(
                /^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:\d{1,5})?$/i,
                'a host name or host:port (IPv6 in brackets)',
              ),
          ),
          keptImageBytes: z
            .number()
            .int()
            .min(1024 * 1024),
          concurrentUploads: z.number().int().min(1).max(64),
        })
        .superRefine((p, ctx) => {
          if (p.enabled === false || isLoopbackHost(p.host)) return;
          if (!p.allowRemote) {
            ctx.addIssue({
              code: 'custom',
              path: ['host'],
              message:
                "not a loopback address: whoever reaches the playground acts as iris's admin. To allow that, set platforms.playground.allowRemote: true and an accessToken (IRIS_PLAYGROUND_TOKEN)",
            });
          } else if (p.accessToken.length < MIN_ACCESS_TOKEN) {
            ctx.addIssue({
              code: 'custom',
              path: ['accessToken'],
              message: `needs at least ${MIN_ACCESS_TOKEN} characters when the playground listens beyond this machine (allowRemote)`,
            });
          }
        }),
    }),
    providers: z.strictObject({
      groq: z.strictObject({ apiKey: z.string(), baseUrl: z.url() }),
      huggingface: z.strictObject({ token: z.string(), endpoint: z.url() }),
    }),
  });
}

export const configSchema = configSchemaFor(TASKS);

export type Config = z.infer<typeof configSchema>;
