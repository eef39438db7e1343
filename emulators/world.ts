import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DestinationStream } from 'pino';
import { createApp, type App } from '../src/app.js';
import type { ManualClock, Clock, Timers } from '../src/clock.js';
import { parseConfig, type Config } from '../src/config.js';
import { settleBot } from './settle.js';
import { startDiscordEmulator, type DiscordEmulator } from './discord/server.js';
import type { DiscordEmulatorOptions } from './discord/types.js';
import { startTuziEmulator, type TuziEmulator, type TuziEmulatorOptions } from './tuzi/server.js';

/**
 * Both emulators and the real bot, wired exactly as the composition root
 * wires it, pointed at the emulators through DISCORD_API_URL and
 * TUZI_BASE_URL. Used by the end-to-end tests, the demo and the benchmarks.
 */
export interface WorldOptions {
  /** A ManualClock drives the bot, both emulators and token lifetimes; omit for real time. */
  clock?: ManualClock;
  /** Extra environment for the bot's config (timing, limits…). */
  env?: Record<string, string>;
  tuzi?: Omit<TuziEmulatorOptions, 'clock'>;
  discord?: Omit<DiscordEmulatorOptions, 'clock'>;
  /** Where the database lives; a fresh temp folder when omitted. */
  dataDir?: string;
  /** Where the bot's logs go; silent when omitted. */
  logDestination?: DestinationStream;
  logLevel?: string;
  /** Do not start the bot (a test that starts it as a child process). */
  noBot?: boolean;
}

export interface World {
  discord: DiscordEmulator;
  tuzi: TuziEmulator;
  clock: Clock;
  manualClock: ManualClock | undefined;
  app: App | undefined;
  config: Config;
  /** The environment the bot was configured with (for a child process). */
  env: Record<string, string>;
  dataDir: string;
  guildId: string;
  channelId: string;
  /** Members: `alice` (en-US) and `li` (zh-CN) are ordinary members, `mod` has Manage Server. */
  users: { alice: string; li: string; mod: string };
  /**
   * Builds and starts the bot (again, after stopBot: a restart on the same
   * database). `beforeStart` sees the app before it logs in (to hook its client).
   */
  startBot(beforeStart?: (app: App) => void): Promise<App>;
  /** Stops the bot; `timeoutMs` bounds the wait for running work (a hung request). */
  stopBot(timeoutMs?: number): Promise<void>;
  /** Waits (real time) until the bot has nothing running: no handler, no job step, no timer due now. */
  settle(maxMs?: number): Promise<void>;
  /** Moves the manual clock forward in steps, letting the bot finish each step's work. */
  advance(ms: number, stepMs?: number): Promise<void>;
  /** Advances until `predicate()` holds, or fails after `maxMs` of simulated time. */
  advanceUntil(predicate: () => boolean, maxMs: number, stepMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const manualClock = options.clock;
  const clock: Clock = manualClock ?? { now: () => Date.now() };
  const timers: Timers | undefined = manualClock;
  const tuzi = await startTuziEmulator({ ...options.tuzi, ...(manualClock ? { clock: manualClock } : {}) });
  const discord = await startDiscordEmulator({ ...options.discord, ...(manualClock ? { clock: manualClock } : {}) });
  const guild = discord.createGuild({ name: 'Sora Lab' });
  const channelId = discord.createChannel(guild.id, { name: 'videos' }).id;
  const users = {
    alice: discord.createUser({ username: 'alice', guildIds: [guild.id] }).id,
    li: discord.createUser({ username: 'li', locale: 'zh-CN', guildIds: [guild.id] }).id,
    mod: discord.createUser({ username: 'mod', guildIds: [guild.id], permissions: (1n << 5n).toString() }).id,
  };
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sora-world-'));
  const env: Record<string, string> = {
    DISCORD_TOKEN: discord.botToken,
    TUZI_API_KEY: 'sk-world-test-key-0123456789',
    TUZI_BASE_URL: tuzi.url,
    DISCORD_API_URL: discord.apiUrl,
    DATABASE_PATH: path.join(dataDir, 'bot.db'),
    LOG_LEVEL: options.logLevel ?? (options.logDestination ? 'info' : 'silent'),
    ...options.env,
  };
  const config = parseConfig(env);

  let app: App | undefined;
  const world: World = {
    discord,
    tuzi,
    clock,
    manualClock,
    get app() {
      return app;
    },
    config,
    env,
    dataDir,
    guildId: guild.id,
    channelId,
    users,
    async startBot(beforeStart) {
      app = createApp(config, {
        clock,
        ...(timers ? { timers } : {}),
        ...(options.logDestination ? { logDestination: options.logDestination } : {}),
      });
      beforeStart?.(app);
      await app.start();
      return app;
    },
    async stopBot(timeoutMs = 5_000) {
      await app?.stop(timeoutMs);
      app = undefined;
    },
    async settle(maxMs = 10_000) {
      await settleBot(app, manualClock, maxMs);
    },
    async advance(ms, stepMs = 1_000) {
      if (!manualClock) throw new Error('advance() needs a ManualClock');
      let left = ms;
      while (left > 0) {
        const step = Math.min(stepMs, left);
        await manualClock.advance(step);
        await world.settle();
        left -= step;
      }
    },
    async advanceUntil(predicate, maxMs, stepMs = 1_000) {
      let spent = 0;
      while (!predicate()) {
        if (spent >= maxMs) throw new Error(`condition not reached after ${maxMs} ms of simulated time`);
        await world.advance(stepMs, stepMs);
        spent += stepMs;
      }
    },
    async close() {
      await world.stopBot();
      await discord.close();
      await tuzi.close();
    },
  };
  if (!options.noBot) await world.startBot();
  return world;
}

/**
 * How to run a module next to this one in a new Node process: the compiled
 * JavaScript as production runs it (when this file is itself compiled, as in
 * `npm run bench`), or the TypeScript source through tsx (tests). tsx's loader
 * thread alone adds some 30 MiB, which a memory figure must not count.
 */
function nodeArgs(relative: string): string[] {
  if (!import.meta.url.endsWith('.js')) {
    return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL(relative, import.meta.url))];
  }
  return [fileURLToPath(new URL(relative.replace(/\.ts$/, '.js'), import.meta.url))];
}

/** How spawnBot starts the process; the defaults start the real bot as production does. */
export interface SpawnBotOptions {
  /** The entry module, relative to this file (a benchmark's baseline bot); the real bot when omitted. */
  entry?: string;
  /** Node flags placed before the entry, e.g. `--cpu-prof` or an `--import` preload. */
  nodeFlags?: string[];
  /** Environment on top of the world's. */
  env?: Record<string, string>;
}

/**
 * Starts the real bot (`src/index.ts`, or `options.entry`) as a child process
 * configured for this world, and resolves once it logged "bot ready". For
 * crash tests (SIGKILL) and for measuring the bot apart from the emulators.
 */
export async function spawnBot(world: World, options: SpawnBotOptions = {}): Promise<ChildProcess> {
  const args = nodeArgs(options.entry ?? '../src/index.ts');
  // Flags go before the entry file, the last argument.
  args.splice(-1, 0, ...(options.nodeFlags ?? []));
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', ...world.env, LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.includes('bot ready')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the bot exited before it was ready (${code})`)));
  });
  return child;
}

/** What the parent asks a simulated-clock bot (emulators/sim-bot.ts). */
export type SimBotOp = { op: 'advance'; ms: number } | { op: 'stats' } | { op: 'reset-stats' } | { op: 'stop' };
export type SimBotRequest = SimBotOp & { id: number };
export type SimBotReply = { id: number; result?: SimBotStats | undefined; error?: string };
/** Measured inside the bot's process since the last reset. */
export interface SimBotStats {
  cpuMs: number;
  maxEventLoopStallMs: number;
  maxUpstreamInFlight: number;
  /** SQLite's total_changes() of the bot's connection (since it opened). */
  rowWrites: number;
}

export interface SimulatedBot {
  pid: number;
  /** Moves the world's clock and then the bot's by `ms`, and waits until the bot has nothing running. */
  advance(ms: number): Promise<void>;
  stats(): Promise<SimBotStats>;
  resetStats(): Promise<void>;
  /** A graceful stop (the app's own), then the process exits. */
  stop(): Promise<void>;
}

/**
 * Starts the real bot in its own process on a simulated clock that follows
 * this world's ManualClock: `advance()` moves both. For benchmarks that
 * compress hours of jobs and measure the bot apart from the emulators.
 */
export async function spawnSimulatedBot(world: World): Promise<SimulatedBot> {
  const clock = world.manualClock;
  if (!clock) throw new Error('spawnSimulatedBot() needs a world with a ManualClock');
  const child = spawn(process.execPath, nodeArgs('./sim-bot.ts'), {
    env: { PATH: process.env.PATH ?? '', ...world.env, SIM_CLOCK_START: String(clock.now()) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const waiting = new Map<number, { resolve: (r: SimBotReply) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (reply: SimBotReply) => {
    const w = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.error) w?.reject(new Error(`simulated bot: ${reply.error}`));
    else w?.resolve(reply);
  });
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`the simulated bot exited (${code})`));
    waiting.clear();
  });
  const reply = (id: number) => new Promise<SimBotReply>((resolve, reject) => waiting.set(id, { resolve, reject }));
  const ask = (request: SimBotOp) => {
    const id = nextId++;
    const answered = reply(id);
    child.send({ ...request, id });
    return answered;
  };
  await reply(0); // sent once the bot is ready
  return {
    pid: child.pid!,
    async advance(ms) {
      await clock.advance(ms);
      await ask({ op: 'advance', ms });
    },
    async stats() {
      return (await ask({ op: 'stats' })).result!;
    },
    async resetStats() {
      await ask({ op: 'reset-stats' });
    },
    async stop() {
      await ask({ op: 'stop' }).catch(() => undefined);
      child.disconnect();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A line the bot logged (pino JSON), as the sharded bot's helper reads them. */
export type LogLine = Record<string, unknown> & { msg?: string; shard?: number | string };

/** The real bot under discord.js's ShardingManager (`src/index.ts` with SHARD_COUNT), started by spawnShardedBot. */
export interface ShardedBot {
  /** The manager process (a process group leader: `kill()` reaches every shard too). */
  manager: ChildProcess;
  /** Every line logged so far by the manager and its shards. */
  logs: LogLine[];
  /** Shard id → the pid of its current process, from the manager's "shard process started" lines. */
  pids(): Map<number, number>;
  /** Waits (real time) for a line matching `predicate` among those logged from `from` on. */
  waitForLog(predicate: (line: LogLine) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<LogLine>;
  /** Waits until every shard's current process logged "bot ready". */
  allReady(timeoutMs?: number): Promise<void>;
  /** SIGKILL of the manager and every shard at once (its process group): a machine going down. */
  killAll(): Promise<void>;
  /** SIGTERM to the manager, which stops every shard; resolves with the manager's exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the real bot with SHARD_COUNT=`shards` (a number or `auto`) as
 * production does: one manager process that runs discord.js's
 * ShardingManager, which forks one process per shard. Resolves once every
 * shard logged "bot ready". For the sharding tests and the benchmark.
 */
export async function spawnShardedBot(
  world: World,
  options: { shards: number | 'auto'; env?: Record<string, string>; timeoutMs?: number },
): Promise<ShardedBot> {
  const manager = spawn(process.execPath, nodeArgs('../src/index.ts'), {
    env: {
      PATH: process.env.PATH ?? '',
      ...world.env,
      LOG_LEVEL: 'info',
      ...options.env,
      SHARD_COUNT: String(options.shards),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  let rest = '';
  manager.stdout!.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // A line torn by a concurrent writer: not one of ours to wait for.
      }
    }
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<number | null>((resolve) => manager.once('exit', (code) => resolve(code)));
  const waitForLog: ShardedBot['waitForLog'] = (predicate, { from = 0, timeoutMs = 60_000 } = {}) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = logs.slice(from).find(predicate);
        if (!hit) return;
        cleanup();
        resolve(hit);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no log line matched within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      void exited.then((code) => {
        if (!waiters.has(check)) return;
        cleanup();
        reject(new Error(`the manager exited (${code})`));
      });
      check();
    });
  const starts = () => logs.filter((l) => l.msg === 'shard process started');
  const bot: ShardedBot = {
    manager,
    logs,
    pids() {
      return new Map(starts().map((l) => [Number(l.shard), Number(l.pid)]));
    },
    waitForLog,
    async allReady(timeoutMs = options.timeoutMs ?? 90_000) {
      const spawned = await waitForLog((l) => l.msg === 'all shards spawned', { timeoutMs });
      const count = Number(spawned.shards);
      for (let shard = 0; shard < count; shard++) {
        // Ready after the latest start of that shard's process.
        const started = logs.findLastIndex((l) => l.msg === 'shard process started' && l.shard === shard);
        await waitForLog((l) => l.msg === 'bot ready' && l.shard === shard, { from: started, timeoutMs });
      }
    },
    async killAll() {
      if (manager.exitCode !== null || manager.signalCode !== null) return;
      process.kill(-manager.pid!, 'SIGKILL');
      await exited;
      // The shards are in the same group; give the kernel a moment to reap them too.
      await new Promise((resolve) => setTimeout(resolve, 200));
    },
    async stop() {
      if (manager.exitCode === null && manager.signalCode === null) manager.kill('SIGTERM');
      return exited;
    },
  };
  await bot.allReady();
  return bot;
}
