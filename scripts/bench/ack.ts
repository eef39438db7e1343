/**
 * Part 1 of `npm run bench`: how fast the bot acknowledges `/sora`, side by
 * side with a bare discord.js bot (baseline-bot.ts) on the same machine, in
 * the same run, against the same emulator — rounds interleaved so that drift
 * on a shared machine hits both. An absolute figure on a 2-core machine says
 * little; the ratio to the baseline says what our code costs.
 *
 * Each run gets a fresh world and a fresh bot process (its own process, as in
 * production). A preload (ack-probe.ts) notes when the bot sent each callback,
 * which splits a latency into the bot's part and the emulator's part, so an
 * emulator that is itself the bottleneck shows.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { commandDefinitions } from '../../src/commands/index.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { BUILT_IN_CATALOGUE, ModelCatalogue } from '../../src/services/capabilities.js';
import type { InteractionHandle } from '../../emulators/discord/types.js';
import { spawnBot, startWorld, type World } from '../../emulators/world.js';
import {
  summariseProfiles,
  type CpuProfile,
  type FrameMatch,
  type ProfileSummary,
  type ProfileWindow,
} from './cpu-profile.js';
import { measureColdStart, type ColdStart } from './cold-start.js';
import { median, percentile } from './stats.js';

/**
 * Which bot answers: ours accepting; the bare baseline (the same client
 * options, src/services/discord-rest.ts); ours refusing (the member's limit
 * is reached); in the steady stream, three peers (baseline-bot.ts): the
 * baseline answering with ours' first reply instead of a deferral, the same
 * also spending ours' further CPU per command in busy loops, and the
 * baseline deferring only after ours' own insert and commit of the job row.
 */
export type AckBot = 'ours' | 'baseline' | 'refusing' | 'reply' | 'peer' | 'store';

/** The peer's busy loops per command, in µs: before its answer, and after Discord answered it. */
export interface PeerWork {
  beforeUs: number;
  afterUs: number;
}

const MINUTE = 60_000;
/** Past Discord's 3 s window the emulator refuses the callback (10062): no point waiting much longer. */
const ACK_WAIT_MS = 5_000;
const PROFILE_INTERVAL_US = 200;
/**
 * Commands a bot answers (all at once) before the measured ones: as many as
 * the standard burst, so that V8 has optimised the code they run, as in a
 * bot in service. After only 20, ours' p99 of 200 at once was a median 126 ms
 * against 94 after 300 (baseline 83 against 74; five interleaved rounds).
 */
const WARM_UP = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until Discord has had no request from the bot for `quietMs` (at most `capMs`). */
async function quiet(w: World, quietMs = 500, capMs = 15_000): Promise<void> {
  const end = Date.now() + capMs;
  let seen = w.discord.requests.length;
  let since = Date.now();
  while (Date.now() < end) {
    await sleep(50);
    if (w.discord.requests.length !== seen) {
      seen = w.discord.requests.length;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

/** One run's figures (a burst, or a steady stream). Times in ms. */
export interface AckRun {
  bot: AckBot;
  commands: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Interactions with a refused callback (10062 too late, 40060 twice). */
  refused: number;
  /** Interactions never acknowledged. */
  unacked: number;
  /**
   * Answers seen: deferred (callback type 5: the baseline, ours in a burst), a
   * public reply (4: ours' first reply as the acknowledgement, and the peers'), a private one
   * (4, ephemeral: a refusal).
   */
  deferred: number;
  replied: number;
  refusals: number;
  /** Answers of the other kind than the bot is meant to give (a refusal from ours accepting…), and one of them. */
  unexpected: number;
  unexpectedExample?: string;
  /**
   * Where the time went (probe): INTERACTION_CREATE sent → the bot's HTTP
   * client created the callback request → wrote it to a socket → the
   * emulator handled it. p50 and p99 of each part on its own.
   */
  split: { toRequest: [number, number]; toSocket: [number, number]; toEmulator: [number, number] };
  /**
   * The bot's follow-up work done within the window: edits of `@original`
   * (the first reply, then progress) Discord received, and videos submitted
   * upstream. Behind in a steady stream means a growing backlog.
   */
  followUp: { edits: number; submitted: number };
  /** New HTTP connections the bot opened during the window (probe), callbacks and everything else. */
  connections: number;
  /** How long the emulator took to build and send the interactions (a burst: all of them at once). */
  dispatchMs: number;
  /** First interaction → last acknowledgement. */
  windowMs: number;
  /** Over the window: the bench process (both emulators), its event loop, the bot process. */
  emulatorCpu: number;
  emulatorElu: number;
  botCpu: number;
  /** The bot's main thread over the window: CPU time per command, and time spent waiting for a CPU. */
  botMainCpuMsPerCommand: number;
  botMainWaitMs: number;
}

interface Raw {
  handles: InteractionHandle[];
  dispatchMs: number;
  windowMs: number;
  emulatorCpu: number;
  emulatorElu: number;
  botCpu: number;
  main: { cpu: number; wait: number };
  fromUs: number;
  toUs: number;
  /** The window in Date.now() time, the emulators' clock. */
  from: number;
  to: number;
  /** … and on the probe's clock (epochMs). */
  fromMs: number;
  toMs: number;
}

/**
 * The main (JavaScript) thread of a process: time on a CPU and time ready
 * but waiting for one, in ms (/proc/<pid>/schedstat, nanoseconds). The wait
 * says how much a busy machine, not the bot, made it late.
 */
function mainThreadMs(pid: number): { cpu: number; wait: number } {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8');
  } catch {
    return { cpu: NaN, wait: NaN }; // a kernel without schedstats: the figures show as NaN
  }
  const [cpu, wait] = text.trim().split(/\s+/).map(Number);
  return { cpu: cpu! / 1e6, wait: wait! / 1e6 };
}

/** utime + stime of a process, all threads, in ms (from /proc; clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const hrUs = () => Number(process.hrtime.bigint() / 1000n);
/**
 * Wall-clock ms at sub-millisecond precision, the clock the probe notes in (ack-probe.ts), so
 * the bot's times and the emulator's (`createdHr`, `arrivedHr`, on this process's
 * performance.now()) subtract: at 100 per second the parts are fractions of a millisecond.
 */
const epochMs = (hr = performance.now()) => performance.timeOrigin + hr;

/** Sends interactions (all at once, or `rate` per second) and waits for every acknowledgement. */
async function drive(
  w: World,
  pid: number,
  users: readonly string[],
  n: number,
  rate: number | undefined,
): Promise<Raw> {
  const handles: InteractionHandle[] = [];
  const acks: Promise<unknown>[] = [];
  const invoke = (i: number) => {
    const h = w.discord.invokeSlashCommand({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: users[i % users.length]!,
      name: 'sora',
      options: { prompt: `ack bench ${i}` },
    });
    handles.push(h);
    acks.push(h.acknowledged(ACK_WAIT_MS).catch(() => undefined));
  };
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const bot0 = processCpuMs(pid);
  const main0 = mainThreadMs(pid);
  const fromUs = hrUs();
  const from = Date.now();
  const fromMs = epochMs();
  const t0 = performance.now();
  if (rate === undefined) {
    for (let i = 0; i < n; i++) invoke(i);
  } else {
    while (handles.length < n) {
      const due = Math.min(n, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (handles.length < due) invoke(handles.length);
      await sleep(1);
    }
  }
  const dispatchMs = performance.now() - t0;
  await Promise.all(acks);
  const windowMs = performance.now() - t0;
  const toUs = hrUs();
  const to = Date.now();
  const toMs = epochMs();
  const main1 = mainThreadMs(pid);
  const cpu = process.cpuUsage(cpu0);
  return {
    handles,
    dispatchMs,
    windowMs,
    emulatorCpu: (cpu.user + cpu.system) / 1000 / windowMs,
    emulatorElu: performance.eventLoopUtilization(elu0).utilization,
    botCpu: (processCpuMs(pid) - bot0) / windowMs,
    main: { cpu: main1.cpu - main0.cpu, wait: main1.wait - main0.wait },
    fromUs,
    toUs,
    from,
    to,
    fromMs,
    toMs,
  };
}

/** How a bot answered an interaction. */
type Answer = 'deferred' | 'public reply' | 'private reply' | 'other';
/** The baseline defers; ours acknowledges with the first reply, or defers in a burst; ours refusing answers privately; the first two peers answer with ours' first reply, the third defers. */
const INTENDED: Record<AckBot, readonly Answer[]> = {
  baseline: ['deferred'],
  reply: ['public reply'],
  peer: ['public reply'],
  store: ['deferred'],
  ours: ['public reply', 'deferred'],
  refusing: ['private reply'],
};
function answer(h: InteractionHandle): Answer {
  if (h.ack?.type === 5) return 'deferred';
  if (h.ack?.type !== 4) return 'other';
  const flags = (h.response?.data as { flags?: number } | undefined)?.flags ?? 0;
  return flags & 64 ? 'private reply' : 'public reply';
}

/**
 * `acceptedHr`: when the emulator received each interaction's accepted callback, on the same
 * sub-millisecond clock as the handle's `createdHr` (the acknowledgement's own `afterMs` is in whole
 * milliseconds: at 100 per second a p99 of 4 ms would move by a quarter from one rounding to the next).
 */
function measure(
  bot: AckBot,
  raw: Raw,
  sent: ReadonlyMap<string, [number, number | null]>,
  acceptedHr: ReadonlyMap<string, number>,
): AckRun {
  const acked = raw.handles.filter((h) => h.ack !== null);
  const ms = acked.map((h) => {
    const at = acceptedHr.get(h.id);
    if (at === undefined)
      throw new Error(`interaction ${h.id} was acknowledged, but no accepted callback was recorded`);
    return at - h.createdHr;
  });
  const toRequest: number[] = [];
  const toSocket: number[] = [];
  const toEmulator: number[] = [];
  for (const h of acked) {
    const [created, written] = sent.get(h.id) ?? [];
    if (created === undefined || written === undefined || written === null) continue;
    toRequest.push(created - epochMs(h.createdHr));
    toSocket.push(written - created);
    toEmulator.push(epochMs(acceptedHr.get(h.id)!) - written);
  }
  const p50p99 = (v: number[]): [number, number] => [percentile(v, 50), percentile(v, 99)];
  return {
    bot,
    commands: raw.handles.length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: ms.length ? Math.max(...ms) : NaN,
    refused: raw.handles.filter((h) => h.callbackErrors.length > 0).length,
    unacked: raw.handles.length - acked.length,
    deferred: acked.filter((h) => answer(h) === 'deferred').length,
    replied: acked.filter((h) => answer(h) === 'public reply').length,
    refusals: acked.filter((h) => answer(h) === 'private reply').length,
    unexpected: 0,
    split: { toRequest: p50p99(toRequest), toSocket: p50p99(toSocket), toEmulator: p50p99(toEmulator) },
    connections: NaN,
    followUp: { edits: NaN, submitted: NaN },
    dispatchMs: raw.dispatchMs,
    windowMs: raw.windowMs,
    emulatorCpu: raw.emulatorCpu,
    emulatorElu: raw.emulatorElu,
    botCpu: raw.botCpu,
    botMainCpuMsPerCommand: raw.main.cpu / raw.handles.length,
    botMainWaitMs: raw.main.wait,
  };
}

/** Ends a bot started with the probe: SIGUSR2 makes it write its notes (and profile) and exit. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGUSR2');
  await exited;
}

/** The 1-minute load average at the start of every run: a shared machine says how shared it was. */
const loadSamples: number[] = [];

const here = fileURLToPath(new URL('.', import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/**
 * One fresh world and bot process; `n` interactions, at once or at `rate` per
 * second. With `profile`, the bot runs under `--cpu-prof` and the samples
 * inside the run's window are returned with it.
 */
export async function ackRun(
  bot: AckBot,
  n: number,
  opts: {
    rate?: number;
    profile?: boolean;
    nodeFlags?: string[];
    /** The peers': the message they answer with (ours' first reply); the second's busy loops. */
    peer?: { reply: unknown; work?: PeerWork };
  } = {},
): Promise<{ run: AckRun; profile?: ProfileWindow; firstReply?: unknown }> {
  if ((bot === 'reply' || bot === 'peer') !== (opts.peer !== undefined) || (bot === 'peer') !== !!opts.peer?.work)
    throw new Error(
      `${bot}: the first two peers, and only they, have a reply; the second peer, and only it, has busy loops`,
    );
  loadSamples.push(os.loadavg()[0]!);
  const w = await startWorld({
    noBot: true,
    env:
      bot === 'refusing'
        ? // One member with a job running already: every further /sora is refused by the limit,
          // after the same validation and quota query an accepted one goes through.
          { DEFAULT_MAX_ACTIVE: '1', TUZI_MAX_CONCURRENCY: '8' }
        : { DEFAULT_MAX_ACTIVE: '0', TUZI_MAX_CONCURRENCY: '8' },
    tuzi: { jobDurationMs: 60 * MINUTE },
  });
  const bare = bot !== 'ours' && bot !== 'refusing';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ack-bench-'));
  const probeFile = path.join(dir, 'sent.json');
  let child: ChildProcess | undefined;
  try {
    if (bare) {
      // Our bot registers its commands at start; the bare one does not, so the bench does it for it.
      const res = await fetch(`${w.discord.apiUrl}/v10/applications/${w.discord.applicationId}/commands`, {
        method: 'PUT',
        headers: { authorization: `Bot ${w.discord.botToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(commandDefinitions(new ModelCatalogue(BUILT_IN_CATALOGUE))),
      });
      if (!res.ok) throw new Error(`registering the commands for the baseline failed: ${res.status}`);
    }
    const users =
      bot === 'refusing'
        ? [w.users.alice]
        : Array.from(
            { length: Math.min(n, 500) },
            (_, i) => w.discord.createUser({ username: `b${i}`, guildIds: [w.guildId] }).id,
          );
    child = await spawnBot(w, {
      ...(bare ? { entry: '../scripts/bench/baseline-bot.ts' } : {}),
      nodeFlags: [
        ...(opts.nodeFlags ?? []),
        '--import',
        path.join(here, `ack-probe${ext}`),
        ...(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${PROFILE_INTERVAL_US}`] : []),
      ],
      env: {
        ACK_PROBE_FILE: probeFile,
        ...(opts.peer ? { BASELINE_REPLY: JSON.stringify(opts.peer.reply) } : {}),
        ...(bot === 'store' ? { BASELINE_STORE: 'job' } : {}),
        ...(opts.peer?.work
          ? {
              BASELINE_WORK_BEFORE_US: String(opts.peer.work.beforeUs),
              BASELINE_WORK_AFTER_US: String(opts.peer.work.afterUs),
            }
          : {}),
      },
    });
    if (bot === 'refusing') {
      // The job that fills the member's one slot.
      const first = w.discord.invokeSlashCommand({
        guildId: w.guildId,
        channelId: w.channelId,
        userId: w.users.alice,
        name: 'sora',
        options: { prompt: 'the one running job' },
      });
      await first.acknowledged(ACK_WAIT_MS);
      if (!INTENDED.ours.includes(answer(first))) throw new Error('the first /sora was not accepted');
    }
    await sleep(500); // the bot's start-up work is over
    // A bot in service is warm: the modules discord.js loads on first use are
    // loaded, the handlers compiled. Without this the first burst of a fresh
    // process also measures module loading and the interpreter.
    const warm = Array.from({ length: WARM_UP }, (_, i) =>
      w.discord
        .invokeSlashCommand({
          guildId: w.guildId,
          channelId: w.channelId,
          userId: users[i % users.length]!,
          name: 'sora',
          options: { prompt: `warm-up ${i}` },
        })
        .acknowledged(ACK_WAIT_MS),
    );
    await Promise.all(warm);
    await quiet(w); // ours: their follow-up work (first replies, submissions, the line) is done
    const raw = await drive(w, child.pid!, users, n, opts.rate);
    await stopChild(child);
    const notes = JSON.parse(fs.readFileSync(probeFile, 'utf8')) as {
      callbacks: [string, number, number | null][];
      connects: number[];
    };
    const sent = new Map(
      notes.callbacks.map(([id, created, written]) => [id, [created, written] as [number, number | null]]),
    );
    const acceptedHr = new Map(
      w.discord.requests
        .filter((r) => r.route === 'callback' && r.status >= 200 && r.status < 300 && r.interactionId !== undefined)
        .map((r) => [r.interactionId!, r.arrivedHr]),
    );
    const run = measure(bot, raw, sent, acceptedHr);
    // The comparison only holds if each bot answered as intended (a config change could make ours refuse):
    // anything else is counted and shown, not hidden in the latencies.
    const odd = raw.handles.filter((h) => h.ack && !INTENDED[bot].includes(answer(h)));
    run.unexpected = odd.length;
    if (odd[0]) run.unexpectedExample = JSON.stringify(odd[0].response?.data ?? null).slice(0, 300);
    if (bot === 'store') {
      // The third peer's figures hold only if it stored what it answered: a row for every command acknowledged.
      const db = openDatabase(w.env.DATABASE_PATH!);
      try {
        const jobs = new JobsRepository(db);
        const missing = raw.handles.filter((h) => h.ack && !jobs.getByInteraction(h.id)).length;
        if (missing > 0) throw new Error(`the third peer acknowledged ${missing} commands it stored no row for`);
      } finally {
        db.close();
      }
    }
    run.connections = notes.connects.filter((t) => t >= raw.fromMs && t <= raw.toMs).length;
    const within = (r: { at: number }) => r.at >= raw.from && r.at <= raw.to;
    run.followUp = {
      edits: w.discord.requests.filter((r) => r.route === 'webhook_edit' && within(r)).length,
      submitted: w.tuzi.requests.filter((r) => r.route === 'create' && within(r)).length,
    };
    // Ours' first reply as Discord received it: what the peers answer with.
    const firstReply = raw.handles.find((h) => answer(h) === 'public reply')?.response?.data;
    if (!opts.profile) return { run, firstReply };
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('the bot wrote no CPU profile');
    const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    // The profile's clock is the system's monotonic clock, the one process.hrtime reads here.
    if (raw.fromUs < profile.startTime || raw.toUs > profile.endTime)
      throw new Error('the CPU profile does not cover the burst (clocks differ?)');
    return { run, firstReply, profile: { profile, fromUs: raw.fromUs, toUs: raw.toUs } };
  } finally {
    if (child) await stopChild(child);
    await w.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface AckBenchResult {
  burst: { commands: number; rounds: Record<AckBot, AckRun>[] };
  /** Median over the rounds of each bot's per-round p99. */
  medianP99Ms: Record<AckBot, number>;
  /** Ours / baseline of those medians (target ≤ 1.25). */
  p99Ratio: number;
  /** Ours refusing / baseline: what the checks before the deferral cost. */
  refusingRatio: number;
  /** Ours / baseline, medians of the main thread's CPU per command: the figure a busy machine blurs least. */
  cpuRatio: number;
  large: { commands: number; ours: AckRun; baseline: AckRun };
  /**
   * A steady stream, run several times per bot (interleaved): the run with the median p99 of each, every
   * run's p99, and ours / baseline of the medians; the same for the three peers, the second's busy loops
   * being what ours spent beyond the first (peerWorkOf; `peerWork`: as set for its last run).
   */
  steady: {
    rate: number;
    seconds: number;
    ours: AckRun;
    baseline: AckRun;
    reply: AckRun;
    peer: AckRun;
    store: AckRun;
    peerWork: PeerWork;
    p99s: Record<SteadyBot, number[]>;
    p99Ratio: number;
    /** The steps from the baseline to ours, each a ratio of median p99s: the answer, the CPU, the rest. */
    steps: { reply: number; cpu: number; rest: number };
    /** The third peer (ours' insert and commit before a deferral) / baseline, median p99s: what the row first costs. */
    storeRatio: number;
  };
  /** The machine's 1-minute load average over the runs (2 would fill a 2-core machine). */
  loadAverage: { min: number; max: number; cpus: number };
  /** Wall time of part 1, in s. */
  wallS: number;
  profile: AckProfile;
  /**
   * One steady stream profiled, ours and the baseline: there the first
   * replies and the line's passes run between the acknowledgements (in a
   * burst they wait until the last one), so the steps after the deferral show.
   */
  steadyProfile: AckProfile;
  /** The bot's own steps timed back to back and after the machine sat idle (cold-start.ts). */
  coldStart: ColdStart;
}

/** The bots' CPU profiles over `runs` runs of `commands` commands each. */
export interface AckProfile {
  runs: number;
  commands: number;
  intervalUs: number;
  ours: ProfileSummary;
  baseline: ProfileSummary;
}

/**
 * The steps of one /sora in the bot, for inclusive time (callees included,
 * each synchronous stretch of an async function counted where it runs).
 * Before the deferral: the action, the router, reading and validating the
 * options, the server settings and controls, the quota insert; after it: the
 * first reply, and the line's pass that follows it. Then what every Discord
 * request costs in the client's REST.
 */
const STEPS: readonly FrameMatch[] = [
  {
    label: 'discord.js InteractionCreate action (build the interaction, emit)',
    fn: 'handle',
    url: /discord\.js\/src\/client\/actions\/InteractionCreate\.js$/,
  },
  { label: 'InteractionRouter.handle (src/interactions)', fn: 'handle', url: /\/src\/interactions\.[jt]s$/ },
  { label: 'JobService.start (src/jobs/job-service)', fn: 'start', url: /\/src\/jobs\/job-service\.[jt]s$/ },
  { label: '… readSoraOptions (src/commands/sora)', fn: 'readSoraOptions', url: /\/src\/commands\/sora\.[jt]s$/ },
  {
    label: '… validateSoraOptions (src/services/sora-request)',
    fn: 'validateSoraOptions',
    url: /\/src\/services\/sora-request\.[jt]s$/,
  },
  {
    label: '… SettingsService.effective (src/services/settings)',
    fn: 'effective',
    url: /\/src\/services\/settings\.[jt]s$/,
  },
  {
    label: '… AdmissionService.admit (src/services/admission): blocks, roles, filter',
    fn: 'admit',
    url: /\/src\/services\/admission\.[jt]s$/,
  },
  {
    // insertWithinQuotaGrouped only queues the insert; its limits, row and commit run here, a turn later.
    label: '… JobsRepository.commitGroup (src/db): the limits and the row, one commit per group',
    fn: 'commitGroup',
    url: /\/src\/db\/jobs-repository\.[jt]s$/,
  },
  {
    label: '… interaction.deferReply (discord.js): the baseline, ours in a burst',
    fn: 'deferReply',
    url: /discord\.js\/src\/structures\/interfaces\/InteractionResponses\.js$/,
  },
  {
    label: '… the first reply as the acknowledgement (src/commands/sora: the callback on the client REST)',
    fn: 'send',
    url: /\/src\/commands\/sora\.[jt]s$/,
  },
  {
    label: '… renderJob (src/ui/render): first replies, places in line',
    fn: 'renderJob',
    url: /\/src\/ui\/render\.[jt]s$/,
  },
  {
    label: '… Responder.edit (src/commands/sora): the first reply after a deferral',
    fn: 'edit',
    url: /\/src\/commands\/sora\.[jt]s$/,
  },
  {
    label: 'JobsRepository.patch (src/db): row updates (the message id, the line, what was shown)',
    fn: 'patch',
    url: /\/src\/db\/jobs-repository\.[jt]s$/,
  },
  {
    label: 'Dispatcher.pass (src/jobs/dispatcher), the line after each first reply',
    fn: 'pass',
    url: /\/src\/jobs\/dispatcher\.[jt]s$/,
  },
  {
    label: 'makeNetworkRequest (@discordjs/rest): sending each Discord request, its synchronous parts',
    fn: 'makeNetworkRequest',
    url: /node_modules\/@discordjs\/rest\/dist\/index\.m?js$/,
  },
  {
    label: "… undici's request (the interaction REST's transport)",
    fn: 'request',
    url: /node_modules\/@discordjs\/rest\/node_modules\/undici\/lib\/api\/api-request\.js$/,
  },
];

const BOTS: readonly AckBot[] = ['ours', 'baseline', 'refusing'];
type SteadyBot = 'ours' | 'baseline' | 'reply' | 'peer' | 'store';
/**
 * In the order of the first run: the first peer answers with ours' first reply, the second is set
 * from both; the third defers after ours' own insert and commit.
 */
const STEADY_BOTS: readonly SteadyBot[] = ['baseline', 'ours', 'reply', 'peer', 'store'];

/**
 * The second peer's busy loops: what ours spent per command beyond the first (medians of the
 * runs given; part 1c gives every run of each so far). Before the callback, the difference of the p50s
 * from INTERACTION_CREATE to the callback request; in all, the difference of the main thread's
 * CPU per command; after the callback, the rest. A figure the machine cannot give (no
 * schedstats) makes no loop.
 */
export function peerWorkOf(ours: readonly AckRun[], reply: readonly AckRun[]): PeerWork {
  const extra = (f: (x: AckRun) => number) => {
    const v = median(ours.map(f)) - median(reply.map(f));
    return Number.isFinite(v) ? Math.max(0, v) : 0;
  };
  const total = extra((x) => x.botMainCpuMsPerCommand);
  const before = Math.min(
    total,
    extra((x) => x.split.toRequest[0]),
  );
  return { beforeUs: Math.round(before * 1000), afterUs: Math.round((total - before) * 1000) };
}

/** Rotates the order of the bots from one round to the next, so none always goes first. */
function order(round: number): AckBot[] {
  const k = round % BOTS.length;
  return [...BOTS.slice(k), ...BOTS.slice(0, k)];
}

export async function runAckBench(options: { quick: boolean; log?: (line: string) => void }): Promise<AckBenchResult> {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const log = (line: string) => options.log?.(`${line} (${elapsed()})`);
  loadSamples.length = 0;
  const quick = options.quick;
  const n = 200;
  // Nine rounds: a round's p99 rests on its two slowest commands, and on this machine the baseline's
  // moved between 36 and 224 ms from one round to the next; the median of five moved by a third.
  const roundCount = quick ? 1 : 9;
  const rounds: Record<AckBot, AckRun>[] = [];
  for (let i = 0; i < roundCount; i++) {
    const round: Partial<Record<AckBot, AckRun>> = {};
    for (const bot of order(i)) round[bot] = (await ackRun(bot, n)).run;
    rounds.push(round as Record<AckBot, AckRun>);
    log(`ack: round ${i + 1}/${roundCount} of ${n} at once done`);
  }
  const medianP99Ms = Object.fromEntries(BOTS.map((bot) => [bot, median(rounds.map((r) => r[bot].p99Ms))])) as Record<
    AckBot,
    number
  >;

  const largeN = 1_000;
  const large = {
    commands: largeN,
    ours: (await ackRun('ours', largeN)).run,
    baseline: (await ackRun('baseline', largeN)).run,
  };
  log(`ack: ${largeN} at once done`);

  const rate = 100;
  const seconds = quick ? 5 : 30;
  // Several runs of each bot, interleaved: one 30 s run's p99 rests on its 30 slowest commands, and
  // the baseline's moved between 4 and 10 ms from run to run on this machine; the median of three
  // moved the ratio between 1.11 and 1.43 from one full run to the next.
  const steadyRuns = quick ? 1 : 5;
  const steadyOf: Record<SteadyBot, AckRun[]> = { ours: [], baseline: [], reply: [], peer: [], store: [] };
  let firstReply: unknown;
  let peerWork: PeerWork | undefined;
  for (let i = 0; i < steadyRuns; i++) {
    // Rotated from the first run's order, in which each peer comes after what it is set from (the
    // runs of ours and the first peer so far).
    const steadyOrder = STEADY_BOTS.map((_, j) => STEADY_BOTS[(j + i) % STEADY_BOTS.length]!);
    for (const bot of steadyOrder) {
      // Set again before each run of it, from every run so far: one run's CPU figures move by a tenth.
      if (bot === 'peer') peerWork = peerWorkOf(steadyOf.ours, steadyOf.reply);
      if ((bot === 'reply' || bot === 'peer') && firstReply === undefined)
        throw new Error('ours answered no command of the steady stream with its first reply');
      const peer =
        bot === 'reply'
          ? { peer: { reply: firstReply } }
          : bot === 'peer'
            ? { peer: { reply: firstReply, work: peerWork! } }
            : {};
      const run = await ackRun(bot, rate * seconds, { rate, ...peer });
      if (bot === 'ours') firstReply ??= run.firstReply;
      steadyOf[bot].push(run.run);
    }
    log(`ack: ${rate}/s for ${seconds} s, run ${i + 1}/${steadyRuns} done`);
  }
  const steadyP99 = (bot: SteadyBot) => median(steadyOf[bot].map((x) => x.p99Ms));
  /** The run whose p99 is the median: the one shown in full. */
  const medianRun = (runs: AckRun[]) => [...runs].sort((a, b) => a.p99Ms - b.p99Ms)[(runs.length - 1) >> 1]!;

  // Profiled runs are apart from the timed ones: the profiler slows the bot.
  const profileRuns = quick ? 1 : 3;
  const windows: Record<'ours' | 'baseline', ProfileWindow[]> = { ours: [], baseline: [] };
  for (let i = 0; i < profileRuns; i++) {
    for (const bot of i % 2 ? (['baseline', 'ours'] as const) : (['ours', 'baseline'] as const)) {
      windows[bot].push((await ackRun(bot, n, { profile: true })).profile!);
    }
  }
  const steadyWindows = {
    ours: (await ackRun('ours', rate * seconds, { rate, profile: true })).profile!,
    baseline: (await ackRun('baseline', rate * seconds, { rate, profile: true })).profile!,
  };
  log('ack: profiles done');
  const coldStart = await measureColdStart({ samples: quick ? 50 : 300 });
  const root = path.resolve(here, ext === '.js' ? '../../..' : '../..');
  const maxSampleUs = 4 * PROFILE_INTERVAL_US;
  const summary = (w: ProfileWindow[]) => summariseProfiles(w, { root, top: 15, inclusive: STEPS, maxSampleUs });
  return {
    burst: { commands: n, rounds },
    medianP99Ms,
    p99Ratio: medianP99Ms.ours / medianP99Ms.baseline,
    refusingRatio: medianP99Ms.refusing / medianP99Ms.baseline,
    cpuRatio:
      median(rounds.map((x) => x.ours.botMainCpuMsPerCommand)) /
      median(rounds.map((x) => x.baseline.botMainCpuMsPerCommand)),
    large,
    loadAverage: { min: Math.min(...loadSamples), max: Math.max(...loadSamples), cpus: os.cpus().length },
    wallS: (performance.now() - started) / 1000,
    steady: {
      rate,
      seconds,
      ours: medianRun(steadyOf.ours),
      baseline: medianRun(steadyOf.baseline),
      reply: medianRun(steadyOf.reply),
      peer: medianRun(steadyOf.peer),
      store: medianRun(steadyOf.store),
      peerWork: peerWork!,
      p99s: Object.fromEntries(STEADY_BOTS.map((b) => [b, steadyOf[b].map((x) => x.p99Ms)])) as Record<
        SteadyBot,
        number[]
      >,
      p99Ratio: steadyP99('ours') / steadyP99('baseline'),
      steps: {
        reply: steadyP99('reply') / steadyP99('baseline'),
        cpu: steadyP99('peer') / steadyP99('reply'),
        rest: steadyP99('ours') / steadyP99('peer'),
      },
      storeRatio: steadyP99('store') / steadyP99('baseline'),
    },
    profile: {
      runs: profileRuns,
      commands: n,
      intervalUs: PROFILE_INTERVAL_US,
      ours: summary(windows.ours),
      baseline: summary(windows.baseline),
    },
    steadyProfile: {
      runs: 1,
      commands: rate * seconds,
      intervalUs: PROFILE_INTERVAL_US,
      ours: summary([steadyWindows.ours]),
      baseline: summary([steadyWindows.baseline]),
    },
    coldStart,
  };
}

const LABEL: Record<AckBot, string> = {
  ours: 'ours',
  baseline: 'baseline',
  refusing: 'ours, refusing',
  reply: "peer: ours' reply",
  peer: 'peer: … and CPU',
  store: "peer: ours' insert",
};

/** Lines of a table whose first column is left-aligned and the others right-aligned. */
function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map(
    (r) => `  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ')}`,
  );
}

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)}` : '–');
/** A latency from the emulator's sub-millisecond times: tenths below 100 ms (the steady stream's are a few ms). */
const latency = (v: number) => (!Number.isFinite(v) ? '–' : v < 100 ? v.toFixed(1) : `${Math.round(v)}`);
const triple = (r: AckRun) => `${latency(r.p50Ms)} / ${latency(r.p99Ms)} / ${latency(r.maxMs)}`;
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const problems = (r: AckRun) =>
  [
    r.refused ? `${r.refused} refused` : '',
    r.unacked ? `${r.unacked} never acknowledged` : '',
    r.unexpected ? `${r.unexpected} unexpected answers` : '',
  ]
    .filter(Boolean)
    .join(', ') || 'none refused';

/** The part-1 tables as `npm run bench` prints them. */
export function formatAckResult(r: AckBenchResult): string {
  const out: string[] = [];
  const rounds = r.burst.rounds;
  out.push(
    `\n## 1. Acknowledgement latency — ${r.burst.commands} /sora at once, ${rounds.length} interleaved rounds, each bot in its own process (INTERACTION_CREATE → callback; target: ours ≤ 1.25 × baseline; Discord allows 3,000 ms)`,
  );
  out.push(
    '  baseline: a bare discord.js bot with our client options that defers at once (scripts/bench/baseline-bot.ts);',
    '  ours, refusing: the member is at the limit, so every /sora is refused (validation and the quota query, then an ephemeral reply).',
  );
  out.push(
    ...columns([
      ['p50 / p99 / max, ms', ...BOTS.map((b) => LABEL[b])],
      ...rounds.map((round, i) => [`round ${i + 1}`, ...BOTS.map((b) => triple(round[b]))]),
      ['p99, median of the rounds', ...BOTS.map((b) => latency(r.medianP99Ms[b]))],
      ['… ÷ baseline', ...BOTS.map((b) => (r.medianP99Ms[b] / r.medianP99Ms.baseline).toFixed(2))],
    ]),
  );
  out.push(`  ours / baseline, median of the per-round p99s: ${r.p99Ratio.toFixed(2)} (target ≤ 1.25)`);
  out.push(
    `  ours / baseline, the bot's main-thread CPU per command (median of the rounds): ${r.cpuRatio.toFixed(2)} — what a busy machine blurs least`,
  );
  out.push(
    `  machine: 1-minute load average ${r.loadAverage.min.toFixed(1)}–${r.loadAverage.max.toFixed(1)} over the runs on ${r.loadAverage.cpus} CPUs (other work on the machine slows both bots alike; the ratio is what holds)`,
  );
  out.push(
    `  callbacks refused (10062/40060) or missing: ${rounds.reduce((a, x) => a + BOTS.reduce((b, k) => b + x[k].refused + x[k].unacked, 0), 0)}`,
  );
  const all = [
    ...rounds.flatMap((x) => BOTS.map((b) => x[b])),
    r.large.ours,
    r.large.baseline,
    r.steady.ours,
    r.steady.baseline,
    r.steady.reply,
    r.steady.peer,
  ];
  for (const x of all.filter((x) => x.unexpected > 0))
    out.push(
      `  ${LABEL[x.bot]}, ${x.commands} commands: ${x.unexpected} unexpected answers, e.g. ${x.unexpectedExample}`,
    );
  const med = (bot: AckBot, f: (x: AckRun) => number) => median(rounds.map((x) => f(x[bot])));
  out.push('\n  Where the time went (median over the rounds of each p50 / p99, ms), from the bot-side probe:');
  out.push(
    ...columns([
      ['', ...BOTS.map((b) => LABEL[b])],
      [
        'INTERACTION_CREATE sent → callback request created',
        ...BOTS.map((b) => `${ms(med(b, (x) => x.split.toRequest[0]))} / ${ms(med(b, (x) => x.split.toRequest[1]))}`),
      ],
      [
        '… → written to a socket (waiting for a connection, the event loop)',
        ...BOTS.map((b) => `${ms(med(b, (x) => x.split.toSocket[0]))} / ${ms(med(b, (x) => x.split.toSocket[1]))}`),
      ],
      [
        '… → handled by the emulator (wire, emulator queue)',
        ...BOTS.map((b) => `${ms(med(b, (x) => x.split.toEmulator[0]))} / ${ms(med(b, (x) => x.split.toEmulator[1]))}`),
      ],
      ['new HTTP connections the bot opened', ...BOTS.map((b) => ms(med(b, (x) => x.connections)))],
      ['emulator: building and sending the burst, ms', ...BOTS.map((b) => ms(med(b, (x) => x.dispatchMs)))],
      ['emulator process: CPU, share of one core', ...BOTS.map((b) => med(b, (x) => x.emulatorCpu).toFixed(2))],
      ['emulator process: event loop busy', ...BOTS.map((b) => pct(med(b, (x) => x.emulatorElu)))],
      ['bot process: CPU, share of one core', ...BOTS.map((b) => med(b, (x) => x.botCpu).toFixed(2))],
      ["bot's main thread: CPU ms per command", ...BOTS.map((b) => med(b, (x) => x.botMainCpuMsPerCommand).toFixed(2))],
      [
        "bot's main thread: ms waiting for a CPU (machine busy)",
        ...BOTS.map((b) => ms(med(b, (x) => x.botMainWaitMs))),
      ],
    ]),
  );

  out.push(`\n## 1b. ${r.large.commands.toLocaleString('en-US')} /sora at once (target: none refused)`);
  out.push(
    ...columns([
      ['', 'p50 / p99 / max, ms', 'callbacks', 'emulator loop busy', 'bot CPU', 'CPU ms/command', 'waiting for a CPU'],
      ...(['ours', 'baseline'] as const).map((b) => [
        LABEL[b],
        triple(r.large[b]),
        problems(r.large[b]),
        pct(r.large[b].emulatorElu),
        r.large[b].botCpu.toFixed(2),
        r.large[b].botMainCpuMsPerCommand.toFixed(2),
        `${ms(r.large[b].botMainWaitMs)} ms`,
      ]),
    ]),
  );
  out.push(`  ours / baseline, p99: ${(r.large.ours.p99Ms / r.large.baseline.p99Ms).toFixed(2)}`);

  out.push(
    `\n## 1c. A steady ${r.steady.rate} /sora per second for ${r.steady.seconds} s, ${r.steady.p99s.ours.length} interleaved run(s) of each bot (target: ours ≤ 1.25 × baseline)`,
  );
  out.push(
    ...columns([
      [
        '',
        'p50 / p99 / max, ms',
        'callbacks',
        'emulator loop busy',
        'bot CPU',
        'CPU ms/command',
        'waiting for a CPU',
        'reply edits',
        'submitted',
      ],
      ...STEADY_BOTS.map((b) => [
        LABEL[b],
        triple(r.steady[b]),
        problems(r.steady[b]),
        pct(r.steady[b].emulatorElu),
        r.steady[b].botCpu.toFixed(2),
        r.steady[b].botMainCpuMsPerCommand.toFixed(2),
        `${ms(r.steady[b].botMainWaitMs)} ms`,
        b === 'ours' ? String(r.steady[b].followUp.edits) : '–',
        b === 'ours' ? `${r.steady[b].followUp.submitted} of ${r.steady[b].commands}` : '–',
      ]),
    ]),
  );
  out.push(
    '  reply edits, submitted: what ours had done by the last acknowledgement (discord.js holds all its requests but the callbacks to 50/s; Discord does not apply its global limit to interaction webhooks)',
  );
  out.push(
    `  p99 of each run, ms: ${STEADY_BOTS.map((b) => `${LABEL[b]} ${r.steady.p99s[b].map(latency).join(' / ')}`).join(', ')} (the table: each bot's run with the median p99)`,
  );
  out.push(`  ours / baseline, median of the runs' p99s: ${r.steady.p99Ratio.toFixed(2)} (target ≤ 1.25)`);
  const w = r.steady.peerWork;
  out.push(
    "  peers (scripts/bench/baseline-bot.ts): the baseline answering with ours' first reply as ours does (callback type 4, with_response) instead of deferring;",
    `  and that peer also spending ${w.beforeUs} µs of busy loop before its answer and ${w.afterUs} µs after Discord's, per command in its last run: what ours spent beyond the first peer in the runs before (p50 to the callback request, main-thread CPU per command; compare the table's CPU column)`,
    `  from the baseline to ours, ratios of the median p99s: ours' reply ${r.steady.steps.reply.toFixed(2)} × ours' CPU as busy loops ${r.steady.steps.cpu.toFixed(2)} × the rest ${r.steady.steps.rest.toFixed(2)} (how ours spends its CPU: allocation and collections, wake-ups, follow-up requests)`,
    `  the third peer defers after ours' own insert and commit of the job row (JobsRepository, the database opened as ours opens it): / baseline ${r.steady.storeRatio.toFixed(2)} — what storing the job before the acknowledgement costs`,
  );
  const part = (x: AckRun, k: keyof AckRun['split']) => `${latency(x.split[k][0])} / ${latency(x.split[k][1])}`;
  out.push(
    "  Where the time went in the median runs (p50 / p99 of each part, ms; the probe's sub-millisecond clock):",
    ...columns([
      ['', ...STEADY_BOTS.map((b) => LABEL[b])],
      ['INTERACTION_CREATE sent → callback request created', ...STEADY_BOTS.map((b) => part(r.steady[b], 'toRequest'))],
      ['… → written to a socket', ...STEADY_BOTS.map((b) => part(r.steady[b], 'toSocket'))],
      [
        '… → handled by the emulator (wire, emulator queue)',
        ...STEADY_BOTS.map((b) => part(r.steady[b], 'toEmulator')),
      ],
    ]),
  );

  out.push(
    `\n## 1d. Where the bot's CPU goes during ${r.profile.commands} at once — node --cpu-prof (${r.profile.intervalUs} µs), ${r.profile.runs} profiled run(s) each, apart from the timed ones; first interaction → last acknowledgement (the first replies wait until then: their steps show in 1e)`,
    ...formatProfile(r.profile),
  );
  out.push(
    `\n## 1e. The same during a steady ${r.steady.rate} /sora per second, ${r.steadyProfile.commands.toLocaleString('en-US')} commands, one profiled run each: the follow-up work between the acknowledgements`,
    ...formatProfile(r.steadyProfile),
  );
  out.push(
    `\n## 1f. The bot's own steps, back to back and after ${r.coldStart.idleMs} ms idle (what a command of the steady stream meets): in-process, a WAL database of 2,000 jobs, median of ${r.coldStart.samples} each`,
    ...columns([
      ['step', 'back to back, µs', `after ${r.coldStart.idleMs} ms idle, µs`, 'ratio'],
      ...r.coldStart.steps.map((c) => [
        c.label,
        c.hotUs.toFixed(0),
        c.coldUs.toFixed(0),
        (c.coldUs / c.hotUs).toFixed(1),
      ]),
    ]),
  );
  return out.join('\n');
}

/** A profile's tables: busy time by category, the steps of a /sora, ours' top functions. */
function formatProfile(p: AckProfile): string[] {
  const out: string[] = [];
  const cats = [...new Set([...p.ours.categories, ...p.baseline.categories].map((c) => c.name))];
  const of = (s: ProfileSummary, name: string) => s.categories.find((c) => c.name === name);
  out.push(
    ...columns([
      [
        'busy time by category (self time, attributed to the nearest known frame)',
        'ours, ms',
        'share',
        'baseline, ms',
        'share',
      ],
      ...cats
        .sort((a, b) => (of(p.ours, b)?.ms ?? 0) - (of(p.ours, a)?.ms ?? 0))
        .map((name) => [
          name,
          ms(of(p.ours, name)?.ms ?? 0),
          pct(of(p.ours, name)?.share ?? 0),
          ms(of(p.baseline, name)?.ms ?? 0),
          pct(of(p.baseline, name)?.share ?? 0),
        ]),
      [
        'total busy (of the window)',
        ms(p.ours.busyMs),
        pct(p.ours.busyMs / p.ours.windowMs),
        ms(p.baseline.busyMs),
        pct(p.baseline.busyMs / p.baseline.windowMs),
      ],
      [
        'busy per command',
        (p.ours.busyMs / (p.commands * p.runs)).toFixed(2),
        '',
        (p.baseline.busyMs / (p.commands * p.runs)).toFixed(2),
        '',
      ],
    ]),
  );
  const perCommand = (v: number) => (v / (p.commands * p.runs)).toFixed(3);
  out.push('\n  Steps of a /sora, inclusive time (callees included):');
  out.push(
    ...columns([
      ['', 'ours, ms', 'per command', 'share', 'baseline, ms', 'per command'],
      ...p.ours.inclusive.map((f, k) => {
        const b = p.baseline.inclusive[k]!;
        return [f.name, ms(f.ms), perCommand(f.ms), pct(f.share), ms(b.ms), perCommand(b.ms)];
      }),
    ]),
  );
  out.push('\n  Top self-time functions, ours:');
  out.push(
    ...columns([
      ['function', 'where', 'ms', 'share', 'category'],
      ...p.ours.top.map((f) => [f.name, f.where, f.ms.toFixed(1), pct(f.share), f.category]),
    ]),
  );
  return out;
}
