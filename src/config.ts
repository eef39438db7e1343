import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import dotenv from 'dotenv';
import { z } from 'zod';
import { LOG_LEVELS } from './logger.js';
import { BUILT_IN_CATALOGUE, readCatalogueFile, splitModelList, type CatalogueSpec } from './services/capabilities.js';
import type { ShardOwnership } from './shard/ownership.js';

/** One process per shard on one machine and one SQLite file: beyond this, run several machines' worth of bot. */
const MAX_SHARDS = 64;

const httpUrl = (what: string) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    }, `must be an http(s) URL (${what})`)
    .transform((v) => v.replace(/\/+$/, ''));

/** A whole number, or undefined when unset or empty (the feature is off). */
const optionalInt = (min: number, max: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const bool = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: 'must be true or false' });
      return z.NEVER;
    });

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const secret = (name: string, where: string) =>
  z
    .string({ error: `is required: ${where}` })
    .trim()
    .min(1, `is required: ${where}`)
    .refine((v) => !/\s/.test(v), `must not contain spaces (check ${name} in .env)`);

const schema = z.object({
  DISCORD_TOKEN: secret(
    'DISCORD_TOKEN',
    'the bot token from the Discord Developer Portal → your application → Bot → Reset Token',
  ),
  TUZI_API_KEY: secret('TUZI_API_KEY', 'your Tuzi API key (Authorization: Bearer <key>)'),
  TUZI_BASE_URL: httpUrl('for example https://api.tu-zi.com').default('https://api.tu-zi.com'),
  DISCORD_API_URL: httpUrl('Discord REST base including /api, e.g. https://discord.com/api').optional(),
  DISCORD_GUILD_ID: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine(
      (v) => v === undefined || /^\d{17,20}$/.test(v),
      'must be a server id (17–20 digits; Developer Mode → right-click the server → Copy Server ID)',
    ),
  DATABASE_PATH: z.string().trim().min(1).default('./data/sora-bot.db'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),

  TUZI_MAX_CONCURRENCY: int(8, 1, 256),
  TUZI_MAX_RUNNING_JOBS: int(10, 1, 10_000),
  POLL_MIN_SECONDS: int(3, 1, 600),
  POLL_MAX_SECONDS: int(30, 1, 3600),
  JOB_MAX_WAIT_MINUTES: int(90, 1, 24 * 60),
  PROGRESS_EDIT_SECONDS: int(5, 1, 600),
  MAX_IMAGE_MB: int(10, 1, 50),
  MAX_VIDEO_MB: int(512, 1, 4096),
  IMAGE_RETENTION_DAYS: int(7, 1, 3650),
  TEMP_DIR: z.string().trim().optional(),

  // Operations: health/metrics HTTP port and backups (src/ops/).
  METRICS_PORT: optionalInt(0, 65535),
  METRICS_HOST: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === undefined || v === '' ? '127.0.0.1' : v))
    .refine(
      (v) => net.isIP(v) !== 0 || v === 'localhost',
      'must be an IP address to listen on (127.0.0.1 for this machine only, 0.0.0.0 for every interface) or localhost',
    ),
  BACKUP_DIR: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v)),
  BACKUP_KEEP: int(7, 1, 1000),

  // Sharding (src/shard/): `auto` asks Discord (GET /gateway/bot) how many.
  SHARD_COUNT: z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return 1;
      if (v === 'auto') return 'auto' as const;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) {
        ctx.addIssue({ code: 'custom', message: `must be auto or a whole number from 1 to ${MAX_SHARDS}` });
        return z.NEVER;
      }
      return n;
    }),

  DEFAULT_PRIVATE: bool(false),
  DEFAULT_WATERMARK: bool(false),
  DEFAULT_DAILY_LIMIT: int(0, 0, 10_000),
  DEFAULT_MAX_ACTIVE: int(2, 0, 1_000),
  DEFAULT_ALLOWED_MODELS: z.string().trim().optional(),
  MODELS_FILE: z.string().trim().optional(),
  // At most the delivery lease (2 min) less a margin: an encode never outlives the claim it runs under.
  REENCODE_TIMEOUT_SECONDS: int(100, 0, 105),
  FFMPEG_PATH: z.string().trim().optional(),
  FFPROBE_PATH: z.string().trim().optional(),
});

export type Config = Readonly<{
  discordToken: string;
  tuziApiKey: string;
  tuziBaseUrl: string;
  discordApiUrl: string | undefined;
  discordGuildId: string | undefined;
  databasePath: string;
  logLevel: (typeof LOG_LEVELS)[number];
  tuziMaxConcurrency: number;
  /** Most jobs running upstream at once for this key; more wait in the bot's fair line. */
  tuziMaxRunningJobs: number;
  pollMinMs: number;
  pollMaxMs: number;
  jobMaxWaitMs: number;
  progressEditMs: number;
  maxImageBytes: number;
  maxVideoBytes: number;
  /** Days a reference image is kept after its job ended (re-rolls send it again). */
  imageRetentionDays: number;
  imageRetentionMs: number;
  tempDir: string;
  /** Port of the health/metrics HTTP server; undefined = no server, 0 = any free port. */
  metricsPort: number | undefined;
  /** Address that server listens on. */
  metricsHost: string;
  /** Folder of the daily database backups; undefined = no automatic backups. */
  backupDir: string | undefined;
  /** Daily backups kept in backupDir (older ones are deleted). */
  backupKeep: number;
  /** The model catalogue (MODELS_FILE, or the built-in one), validated. */
  catalogue: CatalogueSpec;
  /** Where the catalogue came from, for the start log: the file, or `built-in`. */
  catalogueSource: string;
  /** Longest a re-encode of an oversized video may run; 0 turns re-encoding off (a link is posted instead). */
  reencodeTimeoutMs: number;
  /** ffmpeg and ffprobe binaries; unset: the ones npm installed (@ffmpeg-installer, @ffprobe-installer). */
  ffmpegPath: string | undefined;
  ffprobePath: string | undefined;
  /** SHARD_COUNT: 1 runs in this process; more, or `auto` (Discord's recommendation), runs a sharding manager. */
  shardCount: number | 'auto';
  /**
   * Set in a process discord.js's ShardingManager spawned (it passes
   * SHARDING_MANAGER, SHARDS and SHARD_COUNT): the one shard this process is.
   */
  shard: ShardOwnership | undefined;
  serverDefaults: {
    private: boolean;
    watermark: boolean;
    dailyLimit: number;
    maxActive: number;
    allowedModels: string[];
  };
}>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        '\nSet these in .env (see .env.example) or in the environment, then start again.',
    );
    this.name = 'ConfigError';
  }
}

/**
 * Validates the environment into a typed config. Every problem is collected
 * into one ConfigError; values are never echoed, so a secret cannot leak.
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = schema.safeParse(env);
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? '?');
      problems.push(`${name} ${issue.message}`);
    }
  } else {
    const d = result.data;
    if (d.POLL_MIN_SECONDS > d.POLL_MAX_SECONDS) {
      problems.push('POLL_MIN_SECONDS must not be greater than POLL_MAX_SECONDS');
    }
    // Settings that only mean something together: a lone one is most likely a typo in the other's name.
    if (env.METRICS_HOST?.trim() && d.METRICS_PORT === undefined) {
      problems.push(
        'METRICS_HOST is set but METRICS_PORT is not; set METRICS_PORT to turn the health/metrics server on',
      );
    }
    if (env.BACKUP_KEEP?.trim() && d.BACKUP_DIR === undefined) {
      problems.push('BACKUP_KEEP is set but BACKUP_DIR is not; set BACKUP_DIR to turn daily backups on');
    }
    if (env.SHARDING_MANAGER && spawnedShard(env, d.SHARD_COUNT) === undefined) {
      problems.push('SHARDS and SHARD_COUNT must name one shard when SHARDING_MANAGER is set (the manager sets them)');
    }
  }
  // Checked even when other variables are wrong, so one run shows every problem.
  const dbProblem = checkDatabasePath(env.DATABASE_PATH?.trim() || './data/sora-bot.db');
  if (dbProblem) problems.push(`DATABASE_PATH ${dbProblem}`);
  const backupDir = env.BACKUP_DIR?.trim();
  if (backupDir) {
    const backupProblem = checkWritableFolder(backupDir);
    if (backupProblem) {
      problems.push(
        `BACKUP_DIR is a folder that cannot be created or written (${backupProblem}); choose a writable path`,
      );
    }
  }
  const modelsFile = env.MODELS_FILE?.trim() || undefined;
  const read = modelsFile ? readCatalogueFile(modelsFile) : { ok: true as const, spec: BUILT_IN_CATALOGUE };
  if (!read.ok) problems.push(...read.problems.map((p) => `MODELS_FILE ${p}`));
  const allowed = read.ok ? allowedModels(env.DEFAULT_ALLOWED_MODELS, read.spec) : { ok: true as const, models: [] };
  if (!allowed.ok) problems.push(`DEFAULT_ALLOWED_MODELS ${allowed.problem}`);
  if (problems.length > 0 || !result.success || !read.ok || !allowed.ok) throw new ConfigError(problems);
  const v = result.data;
  return {
    discordToken: v.DISCORD_TOKEN,
    tuziApiKey: v.TUZI_API_KEY,
    tuziBaseUrl: v.TUZI_BASE_URL,
    discordApiUrl: v.DISCORD_API_URL,
    discordGuildId: v.DISCORD_GUILD_ID,
    databasePath: v.DATABASE_PATH,
    logLevel: v.LOG_LEVEL,
    tuziMaxConcurrency: v.TUZI_MAX_CONCURRENCY,
    tuziMaxRunningJobs: v.TUZI_MAX_RUNNING_JOBS,
    pollMinMs: v.POLL_MIN_SECONDS * 1000,
    pollMaxMs: v.POLL_MAX_SECONDS * 1000,
    jobMaxWaitMs: v.JOB_MAX_WAIT_MINUTES * 60_000,
    progressEditMs: v.PROGRESS_EDIT_SECONDS * 1000,
    maxImageBytes: v.MAX_IMAGE_MB * 1024 * 1024,
    maxVideoBytes: v.MAX_VIDEO_MB * 1024 * 1024,
    imageRetentionDays: v.IMAGE_RETENTION_DAYS,
    imageRetentionMs: v.IMAGE_RETENTION_DAYS * 24 * 60 * 60_000,
    tempDir: v.TEMP_DIR || path.join(path.dirname(v.DATABASE_PATH), 'tmp'),
    metricsPort: v.METRICS_PORT,
    metricsHost: v.METRICS_HOST,
    backupDir: v.BACKUP_DIR,
    backupKeep: v.BACKUP_KEEP,
    catalogue: read.spec,
    catalogueSource: modelsFile ?? 'built-in',
    reencodeTimeoutMs: v.REENCODE_TIMEOUT_SECONDS * 1000,
    ffmpegPath: v.FFMPEG_PATH || undefined,
    ffprobePath: v.FFPROBE_PATH || undefined,
    shardCount: v.SHARD_COUNT,
    shard: env.SHARDING_MANAGER ? spawnedShard(env, v.SHARD_COUNT) : undefined,
    serverDefaults: {
      private: v.DEFAULT_PRIVATE,
      watermark: v.DEFAULT_WATERMARK,
      dailyLimit: v.DEFAULT_DAILY_LIMIT,
      maxActive: v.DEFAULT_MAX_ACTIVE,
      allowedModels: allowed.models,
    },
  };
}

/** DEFAULT_ALLOWED_MODELS read exactly as /sora-config allowed_models reads it; unset: every catalogue model. */
function allowedModels(
  text: string | undefined,
  catalogue: CatalogueSpec,
): { ok: true; models: string[] } | { ok: false; problem: string } {
  const ids = catalogue.models.map((m) => m.id);
  if (text === undefined || text.trim() === '') return { ok: true, models: ids };
  const { models, unknown } = splitModelList(text, ids);
  if (unknown.length > 0 || models.length === 0)
    return {
      ok: false,
      problem: `unknown model(s) ${unknown.join(', ') || '(none)'}; use a comma-separated list of ${ids.join(', ')}`,
    };
  return { ok: true, models };
}

/** The shard a ShardingManager child was spawned as: SHARDS is its id (discord.js Shard#env). */
function spawnedShard(env: Record<string, string | undefined>, count: number | 'auto'): ShardOwnership | undefined {
  const id = Number(env.SHARDS);
  if (count === 'auto' || !/^\d+$/.test(env.SHARDS ?? '') || id >= count) return undefined;
  return { id, count };
}

/** Creates the database folder and checks that it can be written. */
function checkDatabasePath(dbPath: string): string | undefined {
  if (dbPath === ':memory:') return undefined;
  const problem = checkWritableFolder(path.dirname(path.resolve(dbPath)));
  return problem && `points into a folder that cannot be created or written (${problem}); choose a writable path`;
}

/** Creates a folder (with its parents) and checks that a file can be written in it; returns what failed. */
function checkWritableFolder(folder: string): string | undefined {
  const dir = path.resolve(folder);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
    return undefined;
  } catch (err) {
    return `${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

/** Loads `.env` (if present) without overriding the real environment, then validates. */
export function loadConfig(envFile = '.env'): Config {
  dotenv.config({ path: envFile, quiet: true });
  return parseConfig(process.env);
}
