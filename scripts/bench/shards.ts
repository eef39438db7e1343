/**
 * Part 8 of `npm run bench` (`--only=shards`): the bot sharded 4 ways, each
 * shard process following 2,000 unfinished jobs, against the same 8,000
 * jobs in one unsharded process, side by side in the same run. For each:
 * how fast `/sora` is acknowledged while the jobs are polled (a steady
 * stream of commands spread over 40 servers), and the resident memory of
 * every bot process. The Tuzi emulator runs in its own process, so the
 * sharded bot's 8,000 polls do not slow the Discord emulator that times
 * the acknowledgements.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { DISCORD_EPOCH } from '../../emulators/discord/snowflake.js';
import type { InteractionHandle } from '../../emulators/discord/types.js';
import { spawnBot, spawnShardedBot, startWorld, type World } from '../../emulators/world.js';
import { seedUnfinished } from './seed.js';
import { percentile } from './stats.js';

const SHARDS = 4;
const SERVERS = 40;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ShardBenchOptions {
  quick: boolean;
  log: (line: string) => void;
}

/** One layout's figures. */
export interface LayoutResult {
  layout: 'one process' | `${number} shards`;
  jobs: number;
  commands: number;
  ackP50Ms: number;
  ackP99Ms: number;
  ackMaxMs: number;
  /** Acknowledgements per shard (p99), for the sharded layout. */
  perShardP99Ms?: number[];
  refused: number;
  /** Status checks the bot made per second over the commands' window (its rows' poll counts): the work it kept up with. */
  pollsPerS: number;
  /** The bot's processes over that window: CPU time per second of wall time (1 = one core), and their main threads' time waiting for a CPU. */
  cpuCores: number;
  runQueueWaitMsPerS: number;
  /** Peak VmRSS of each bot process while it followed its jobs and took the commands (MiB), sampled every 100 ms. */
  rssMiB: Record<string, number>;
}

export interface ShardBenchResult {
  jobsPerShard: number;
  single: LayoutResult;
  sharded: LayoutResult;
  /** Sharded ÷ one process. */
  p99Ratio: number;
  /** The largest shard process ÷ the one process (each shard follows a quarter of the jobs). */
  rssPerShardRatio: number;
  /** Every sharded process together, manager included ÷ the one process. */
  rssTotalRatio: number;
}

/** A guild id on shard `i % 4` (the shard formula reads the timestamp bits). */
function guildId(i: number): string {
  const ms = Date.UTC(2026, 0, 1) - DISCORD_EPOCH;
  return ((BigInt(ms - (ms % 840) + i) << 22n) | 5n).toString();
}

/** utime + stime of a process in ms (/proc, 10 ms ticks), and its main thread's wait for a CPU (schedstat, if the kernel keeps it). */
function cpuOf(pid: number): { cpu: number; wait: number } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let wait = NaN;
    try {
      wait = Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/)[1]) / 1e6;
    } catch {
      // no schedstats on this kernel
    }
    return { cpu: ((Number(f[11]) + Number(f[12])) * 1000) / 100, wait };
  } catch {
    return { cpu: NaN, wait: NaN };
  }
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The Tuzi emulator in its own process (compiled when this file is, through tsx otherwise); its URL. */
async function startTuziProcess(): Promise<{ url: string; child: ChildProcess }> {
  const compiled = import.meta.url.endsWith('.js');
  const cli = fileURLToPath(new URL(`../../emulators/tuzi/cli.${compiled ? 'js' : 'ts'}`, import.meta.url));
  const args = compiled ? [cli] : ['--import', import.meta.resolve('tsx'), cli];
  // Jobs of an hour: none ends while measured.
  const child = spawn(process.execPath, [...args, '--port', '0', '--job-seconds', '3600'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (c: Buffer) => resolve(c.toString().split('\n')[0]!.trim()));
    child.once('exit', (code) => reject(new Error(`the Tuzi emulator exited (${code})`)));
  });
  child.stdout!.resume();
  return { url, child };
}

/** `jobs` unfinished jobs that exist upstream, spread over the servers, in the world's database. */
async function seed(w: World, tuziUrl: string, jobs: number, guilds: string[], channels: string[], users: string[]) {
  const db = openDatabase(w.config.databasePath);
  try {
    await seedUnfinished({
      tuziUrl,
      jobs: new JobsRepository(db),
      n: jobs,
      now: Date.now(),
      applicationId: w.discord.applicationId,
      place: (i) => {
        const g = i % guilds.length;
        return { guildId: guilds[g]!, channelId: channels[g]!, userId: users[g]! };
      },
      // Their replies are gone (a restart long after): what is measured is following them, not editing them.
      patch: { messageGone: true },
    });
  } finally {
    db.close();
  }
}

/** Status checks recorded so far on every row (a read-only look at the bot's database). */
function pollsSoFar(w: World): number {
  const db = new Database(w.config.databasePath, { readonly: true });
  try {
    return (db.prepare('SELECT coalesce(sum(poll_count), 0) AS n FROM jobs').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Sends `n` /sora over the servers at `perSecond`, and waits for every acknowledgement. */
async function drive(w: World, n: number, perSecond: number, guilds: string[], channels: string[], users: string[]) {
  const handles: InteractionHandle[] = [];
  for (let i = 0; i < n; i++) {
    const g = i % guilds.length;
    handles.push(
      w.discord.invokeSlashCommand({
        guildId: guilds[g]!,
        channelId: channels[g]!,
        userId: users[g]!,
        name: 'sora',
        options: { prompt: `bench ${i}` },
      }),
    );
    await sleep(1000 / perSecond);
  }
  await Promise.all(handles.map((h) => h.acknowledged(10_000).catch(() => undefined)));
  return handles;
}

async function runLayout(
  layout: 'single' | 'sharded',
  jobsPerShard: number,
  options: ShardBenchOptions,
): Promise<LayoutResult> {
  const jobs = jobsPerShard * SHARDS;
  const commands = options.quick ? 40 : 200;
  const tuzi = await startTuziProcess();
  const w = await startWorld({
    noBot: true,
    env: { DEFAULT_MAX_ACTIVE: '0', TUZI_BASE_URL: tuzi.url, TUZI_MAX_RUNNING_JOBS: '10000' },
    discord: { sharding: { maxConcurrency: 16 } },
  });
  const guilds: string[] = [];
  const channels: string[] = [];
  const users: string[] = [];
  for (let i = 0; i < SERVERS; i++) {
    const g = w.discord.createGuild({ id: guildId(i), name: `server ${i}` });
    guilds.push(g.id);
    channels.push(g.channels[0]!.id);
    users.push(w.discord.createUser({ username: `member${i}`, guildIds: [g.id] }).id);
  }
  w.env.TUZI_BASE_URL = tuzi.url;
  let single: ChildProcess | undefined;
  let sharded: Awaited<ReturnType<typeof spawnShardedBot>> | undefined;
  try {
    options.log(`${layout}: seeding ${jobs} jobs`);
    await seed(w, tuzi.url, jobs, guilds, channels, users);
    const pids = new Map<string, number>();
    if (layout === 'single') {
      single = await spawnBot(w);
      pids.set('bot', single.pid!);
    } else {
      sharded = await spawnShardedBot(w, { shards: SHARDS });
      pids.set('manager', sharded.manager.pid!);
      for (const [id, pid] of sharded.pids()) pids.set(`shard ${id}`, pid);
    }
    const peak: Record<string, number> = {};
    const sample = () => {
      for (const [name, pid] of pids) peak[name] = Math.max(peak[name] ?? 0, rssMiB(pid) || 0);
    };
    const sampler = setInterval(sample, 100);
    // Past the restart's spread of the resumed jobs (30 s at most): the steady state of following them.
    await sleep(options.quick ? 8_000 : 35_000);
    options.log(`${layout}: ${commands} /sora at 20 per second`);
    const polls0 = pollsSoFar(w);
    const cpu0 = [...pids.values()].map(cpuOf);
    const t0 = Date.now();
    const handles = await drive(w, commands, 20, guilds, channels, users);
    await sleep(1_000);
    const seconds = (Date.now() - t0) / 1000;
    const pollsPerS = (pollsSoFar(w) - polls0) / seconds;
    const cpu1 = [...pids.values()].map(cpuOf);
    const cpuCores = cpu1.reduce((n, c, i) => n + c.cpu - cpu0[i]!.cpu, 0) / 1000 / seconds;
    const runQueueWaitMsPerS = cpu1.reduce((n, c, i) => n + c.wait - cpu0[i]!.wait, 0) / seconds;
    clearInterval(sampler);
    sample();
    const acked = handles.filter((h) => h.ack);
    const ms = acked.map((h) => h.ack!.afterMs);
    // Command i went to server i % SERVERS, whose shard is its index % SHARDS (guildId()).
    const ofShard = (shard: number) =>
      handles.filter((h, i) => h.ack && (i % SERVERS) % SHARDS === shard).map((h) => h.ack!.afterMs);
    const result: LayoutResult = {
      layout: layout === 'single' ? 'one process' : `${SHARDS} shards`,
      jobs,
      commands,
      ackP50Ms: percentile(ms, 50),
      ackP99Ms: percentile(ms, 99),
      ackMaxMs: Math.max(...ms),
      refused: handles.length - acked.length + handles.reduce((n, h) => n + h.callbackErrors.length, 0),
      pollsPerS,
      cpuCores,
      runQueueWaitMsPerS,
      rssMiB: peak,
    };
    if (layout === 'sharded')
      result.perShardP99Ms = [...Array(SHARDS).keys()].map((shard) => percentile(ofShard(shard), 99));
    return result;
  } finally {
    if (sharded) await sharded.stop();
    if (single && single.exitCode === null) {
      const exited = new Promise((resolve) => single!.once('exit', resolve));
      single.kill('SIGTERM');
      await exited;
    }
    await w.close();
    tuzi.child.kill('SIGTERM');
  }
}

export async function runShardBench(options: ShardBenchOptions): Promise<ShardBenchResult> {
  const jobsPerShard = options.quick ? 100 : 2_000;
  const single = await runLayout('single', jobsPerShard, options);
  const sharded = await runLayout('sharded', jobsPerShard, options);
  const shardRss = Object.entries(sharded.rssMiB)
    .filter(([k]) => k.startsWith('shard'))
    .map(([, v]) => v);
  const total = Object.values(sharded.rssMiB).reduce((a, b) => a + b, 0);
  return {
    jobsPerShard,
    single,
    sharded,
    p99Ratio: sharded.ackP99Ms / single.ackP99Ms,
    rssPerShardRatio: Math.max(...shardRss) / single.rssMiB.bot!,
    rssTotalRatio: total / single.rssMiB.bot!,
  };
}

export function formatShardResult(r: ShardBenchResult): string {
  const row = (l: LayoutResult) =>
    `  ${l.layout.padEnd(12)} ${String(l.jobs).padStart(6)} jobs  ack p50 / p99 / max ${l.ackP50Ms} / ${l.ackP99Ms} / ${l.ackMaxMs} ms` +
    `  refused ${l.refused}  ${l.pollsPerS.toFixed(0)} status checks/s  CPU ${l.cpuCores.toFixed(2)} cores, main threads waiting ${l.runQueueWaitMsPerS.toFixed(0)} ms/s  RSS ${Object.entries(
      l.rssMiB,
    )
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ')} MiB`;
  return [
    `\n## 9. Sharding — ${SHARDS} shards × ${r.jobsPerShard} unfinished jobs against the same ${SHARDS * r.jobsPerShard} jobs in one process (${r.sharded.commands} /sora at 20/s over ${SERVERS} servers, acknowledgement as Discord sees it)`,
    row(r.single),
    row(r.sharded),
    `  per shard, ack p99: ${(r.sharded.perShardP99Ms ?? []).join(' / ')} ms`,
    `  sharded ÷ one process: ack p99 ${r.p99Ratio.toFixed(2)}, RSS of the largest shard ${r.rssPerShardRatio.toFixed(2)}, RSS of every process together ${r.rssTotalRatio.toFixed(2)}`,
  ].join('\n');
}
