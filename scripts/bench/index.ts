/**
 * `npm run bench [-- --quick]`: the numbers that show the bot is fast and
 * frugal. Prints a table per part and writes bench-results/bench.json.
 * Everything runs against the emulators on 127.0.0.1; timing figures live
 * here, never in the test suite.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { newJob } from '../../emulators/job-rows.js';
import { spawnBot, spawnSimulatedBot, startWorld, type SimulatedBot } from '../../emulators/world.js';
import { formatAckResult, runAckBench } from './ack.js';
import { editsRows, runEditsBench } from './edits.js';
import { queueRows, runQueueBench, type QueueBenchOptions } from './queue.js';
import { formatPollingTable, runPollingBench } from './polling.js';
import { runReencodeBench } from './reencode.js';
import { seedUnfinished } from './seed.js';
import { formatShardResult, runShardBench } from './shards.js';
import { percentile } from './stats.js';

const quick = process.argv.includes('--quick');
/** `--only ack,polling,…` runs some parts (names: ack, polling, edits, scale, delivery, autocomplete, reencode, shards, queue). */
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const wanted = (part: string) => !only || only.includes(part);
const MINUTE = 60_000;
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const results: Record<string, unknown> = {
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  },
  quick,
};

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function table(title: string, rows: [string, string | number][]): void {
  console.log(`\n## ${title}`);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${typeof v === 'number' ? Number(v.toFixed(2)) : v}`);
}

/**
 * 1. Acknowledgement latency, side by side with a bare discord.js bot, and a
 * CPU profile of where the bot's time goes (scripts/bench/ack.ts).
 */
async function ackLatency(): Promise<void> {
  const r = await runAckBench({ quick, log: (line) => console.error(`  … ${line}`) });
  results.ack = r;
  console.log(formatAckResult(r));
}

/** 2. Polling economy on a simulated clock, per way of reporting progress (our policy against peers'). */
async function polling(): Promise<void> {
  const r = await runPollingBench({ jobs: quick ? 200 : 1000, seed: 42, costCalls: quick ? 50_000 : 200_000 });
  results.polling = r;
  console.log('\n## 2. Polling economy and completion lag');
  console.log(formatPollingTable(r));
}

/** 3. Discord edits per job, jobs of 2–120 minutes with the 30046 cap and per-route buckets on (issue #13). */
async function edits(): Promise<void> {
  const r = await runEditsBench(
    quick
      ? { jobs: 10, longestMin: 75, arrivalEveryMs: 60_000, seed: 13 }
      : { jobs: 50, longestMin: 120, arrivalEveryMs: 12_000, seed: 13 },
  );
  results.edits = r;
  table(
    `3. Discord edits — ${r.jobs} jobs of ${r.shortestJobMin}–${r.longestJobMin} min in one channel, 30046 cap, route buckets and global limit on (targets: 0 s held beyond the bound, no 429)`,
    editsRows(r),
  );
}

/**
 * 10. The fair line when the provider is full (issue #15): jobs from one busy
 * and four quiet servers arrive within a minute against a provider capped at
 * 8 running jobs per key. The bot at its default TUZI_MAX_RUNNING_JOBS (10,
 * above the cap: the provider's 429s do the limiting, as for an operator who
 * does not know the cap), and side by side told the cap (8).
 */
async function queue(): Promise<void> {
  const base: Omit<QueueBenchOptions, 'botCap'> = {
    jobs: quick ? 60 : 500,
    arrivalMs: 60_000,
    providerCap: 8,
    jobMin: [2, 6],
    seed: 15,
    servers: [
      { name: 'busy', share: 6, members: 40 },
      ...[1, 2, 3, 4].map((k) => ({ name: `quiet${k}`, share: 1, members: 5 })),
    ],
  };
  const runs = [];
  for (const botCap of quick ? [10] : [10, 8]) {
    const r = await runQueueBench({ ...base, botCap });
    runs.push(r);
    table(
      `10. The line — ${r.jobs} jobs in 60 s from 1 busy + 4 quiet servers, provider cap ${r.providerCap}, TUZI_MAX_RUNNING_JOBS ${r.botCap}${r.botCap === 10 ? ' (default)' : ''}`,
      queueRows(r),
    );
  }
  results.queue = runs;
}

/** A process's current (VmRSS) or peak (VmHWM) resident memory, in MiB, from /proc. */
function procRssMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** 4 + 5. Restart with many unfinished jobs, then run them all to the end on compressed time. */
async function scale(): Promise<void> {
  const n = quick ? 300 : 2000;
  const cap = 8;
  const clock = new ManualClock(Date.now());
  const w = await startWorld({
    clock,
    noBot: true,
    env: { DEFAULT_MAX_ACTIVE: '0', TUZI_MAX_CONCURRENCY: String(cap) },
    tuzi: { jobDurationMs: 8 * MINUTE },
  });
  let bot: SimulatedBot | undefined;
  try {
    w.tuzi.setJobPlan((job) => ({
      durationMs: (2 + (job.index % 11)) * MINUTE,
      curve: (['linear', 'steps', 'stall-90'] as const)[job.index % 3],
    }));
    await w.startBot();
    await seedUnfinished({
      tuziUrl: w.tuzi.url,
      jobs: new JobsRepository(w.app!.db),
      n,
      now: w.clock.now(),
      applicationId: w.discord.applicationId,
      place: () => ({ guildId: w.guildId, channelId: w.channelId, userId: w.users.alice }),
    });
    await w.stopBot();
    const baseline = w.tuzi.requests.length;
    // The bot restarts in its own process on the same simulated clock, so
    // memory, CPU and the event loop below are the bot's alone.
    const db = new Database(w.config.databasePath, { readonly: true });

    // 5. Restart: the time until every job was polled once, and the largest burst.
    const started = Date.now();
    const polled = () =>
      new Set(
        w.tuzi.requests
          .slice(baseline)
          .filter((r) => r.route === 'retrieve')
          .map((r) => r.jobId),
      ).size;
    bot = await spawnSimulatedBot(w);
    let simulated = 0;
    while (polled() < n && simulated < 10 * MINUTE) {
      await bot.advance(1_000);
      simulated += 1_000;
    }
    const restartS = (Date.now() - started) / 1000;
    const restartStats = await bot.stats();
    results.restart = {
      jobs: n,
      allPolledOnceRealS: restartS,
      simulatedS: simulated / 1000,
      polled: polled(),
      maxConcurrentGets: restartStats.maxUpstreamInFlight,
      cap,
    };
    table(`5. Restart with ${n} unfinished jobs (bot in its own process)`, [
      ['every job polled once after (real, start-up included)', `${restartS.toFixed(1)} s`],
      ['… of simulated time (spread window)', `${simulated / 1000} s`],
      ['largest burst of concurrent upstream requests, sampled (cap)', `${restartStats.maxUpstreamInFlight} (${cap})`],
    ]);

    // 4. Scale: run all of them to the end on compressed time.
    await bot.resetStats();
    const before = await bot.stats();
    const t0 = Date.now();
    const pid = bot.pid;
    let peakRss = procRssMiB(pid, 'VmRSS');
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, procRssMiB(pid, 'VmRSS'))), 20);
    const finished = () =>
      (
        db
          .prepare(
            "SELECT count(*) AS c FROM jobs WHERE status IN ('delivered','failed','delivery_failed','timed_out')",
          )
          .get() as { c: number }
      ).c;
    while (finished() < n && simulated < 40 * MINUTE) {
      await bot.advance(2_000);
      simulated += 2_000;
    }
    clearInterval(rssTimer);
    const wallS = (Date.now() - t0) / 1000;
    const after = await bot.stats();
    const lifetimePeak = procRssMiB(pid, 'VmHWM');
    const writes = after.rowWrites - before.rowWrites;
    results.scale = {
      jobs: n,
      finished: finished(),
      wallS,
      cpuShare: after.cpuMs / 1000 / wallS,
      peakRssMiB: peakRss,
      lifetimePeakRssMiB: lifetimePeak,
      sqliteWritesPerS: writes / wallS,
      maxEventLoopStallMs: after.maxEventLoopStallMs,
      maxConcurrentGets: after.maxUpstreamInFlight,
      cap,
    };
    table(
      `4. Scale — ${n} unfinished jobs to the end, bot in its own process (targets: RSS < 250 MB, ≤ cap, no stall > 100 ms)`,
      [
        ['jobs finished', `${finished()} / ${n}`],
        ['wall time (compressed)', `${wallS.toFixed(1)} s`],
        ['bot CPU, share of one core', after.cpuMs / 1000 / wallS],
        ['bot peak RSS while running them (sampled every 20 ms)', `${peakRss.toFixed(0)} MiB`],
        ['bot peak RSS over its whole life (VmHWM)', `${lifetimePeak.toFixed(0)} MiB`],
        ['SQLite row writes per second', (writes / wallS).toFixed(0)],
        ['largest event-loop stall in the bot', `${after.maxEventLoopStallMs.toFixed(1)} ms`],
        ['largest burst of concurrent upstream requests, sampled (cap)', `${after.maxUpstreamInFlight} (${cap})`],
      ],
    );
    db.close();
  } finally {
    await bot?.stop();
    await w.close();
  }
}

/** One video of `size` bytes downloaded and posted by a fresh bot process: its RSS before and at the peak. */
async function deliveryRound(size: number): Promise<{ before: number; peak: number; uploaded: number }> {
  // The bot runs in its own process here, so its memory is measured alone
  // (the emulators buffer what they receive and would hide the figure).
  const w = await startWorld({
    noBot: true,
    discord: { defaultUploadLimitBytes: 1024 * MiB },
    tuzi: { jobDurationMs: 2_000 },
    env: { POLL_MIN_SECONDS: '1', POLL_MAX_SECONDS: '2' },
  });
  const child = await spawnBot(w);
  try {
    w.tuzi.injectFault({ kind: 'oversized', route: ['video', 'content'], bytes: size, times: Infinity });
    await sleep(1_000);
    const before = procRssMiB(child.pid!, 'VmRSS');
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, procRssMiB(child.pid!, 'VmRSS'))), 5);
    const h = w.discord.invokeSlashCommand({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: w.users.alice,
      name: 'sora',
      options: { prompt: `${size / MiB} MiB` },
      attachmentSizeLimit: 1024 * MiB,
    });
    await h.acknowledged(10_000);
    const posted = await w.discord.waitFor(
      () => w.discord.messages(w.channelId).find((m) => m.attachments.some((a) => a.size === size)),
      { timeoutMs: 120_000, what: `the ${size / MiB} MiB video` },
    );
    clearInterval(timer);
    return { before, peak, uploaded: posted.attachments[0]!.size };
  } finally {
    await stopChild(child);
    await w.close();
  }
}

/** 6. Posting a 50 MiB video: peak RSS growth, and whether it grows with the video's size. */
async function deliveryMemory(): Promise<void> {
  const sizes = quick ? [50] : [50, 200];
  const rounds: { videoMiB: number; uploadedMiB: number; botRssBeforeMiB: number; botPeakGrowthMiB: number }[] = [];
  for (const mib of sizes) {
    const r = await deliveryRound(mib * MiB);
    rounds.push({
      videoMiB: mib,
      uploadedMiB: r.uploaded / MiB,
      botRssBeforeMiB: r.before,
      botPeakGrowthMiB: r.peak - r.before,
    });
  }
  results.delivery = rounds;
  table(
    '6. Delivery memory — one video downloaded and posted as an attachment by a fresh bot process (streamed: growth must not follow the size)',
    rounds.flatMap((r): [string, string][] => [
      [`${r.videoMiB} MiB video: bot RSS before`, `${r.botRssBeforeMiB.toFixed(0)} MiB`],
      [`${r.videoMiB} MiB video: bot peak RSS growth`, `${r.botPeakGrowthMiB.toFixed(1)} MiB`],
    ]),
  );
}

/** 7. Autocomplete for character_from_task from a database of 10,000 jobs. */
function autocomplete(): void {
  const db = openDatabase(':memory:');
  const jobs = new JobsRepository(db);
  const words = ['fox', 'whale', 'corgi', 'moon', 'city', 'rain', 'robot', 'forest', 'ocean', 'desert'];
  const users = ['u0', 'u1', 'u2', 'u3'];
  db.transaction(() => {
    for (let i = 0; i < 10_000; i++) {
      const r = jobs.insertWithinQuota(
        newJob({
          interactionId: String(i),
          userId: users[i % users.length]!,
          prompt: `a ${words[i % 10]} and a ${words[(i * 7) % 10]} #${i}`,
        }),
        { maxActive: 0, dailyLimit: 0, dayStart: 0 },
        i,
      );
      if (r.ok)
        jobs.transition(
          r.job.id,
          'waiting',
          i % 5 === 0 ? 'failed' : 'delivered',
          { upstreamId: `sora-2:task_${String(i).padStart(26, '0')}` },
          i,
        );
    }
  })();
  const queries = ['', 'fox', 'whale rob', 'task_0000000000000000000000012', 'zzz'];
  const times: number[] = [];
  for (let round = 0; round < 200; round++) {
    for (const q of queries) {
      const t = process.hrtime.bigint();
      jobs.searchCompleted(users[round % users.length]!, q, 25);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  results.autocomplete = {
    jobs: 10_000,
    queries: times.length,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: Math.max(...times),
  };
  table('7. Autocomplete (character_from_task) over 10,000 jobs — Discord allows 3,000 ms', [
    ['p50', `${percentile(times, 50).toFixed(3)} ms`],
    ['p99', `${percentile(times, 99).toFixed(3)} ms`],
    ['max', `${Math.max(...times).toFixed(3)} ms`],
  ]);
  db.close();
}

/** 8. A 30 MiB video into a 10 MiB channel: re-encoded to fit, against the same video posted as it is. */
async function reencode(): Promise<void> {
  const r = await runReencodeBench({ rounds: quick ? 1 : 3 });
  results.reencode = r;
  const ratio = r.medianReencodedSeconds / r.medianAsIsSeconds;
  table(
    `8. Re-encoding — a ${r.videoMiB.toFixed(1)} MiB, 4 s video into a 10 MiB channel, real bot in its own process, ${r.rounds.length / 2} round(s) each way`,
    [
      [
        're-encoded to (MiB, limit 10)',
        r.rounds
          .filter((x) => x.mode === 'reencoded')
          .map((x) => x.postedMiB.toFixed(2))
          .join(' / '),
      ],
      ['seconds per video, delivered re-encoded (median)', `${r.medianReencodedSeconds.toFixed(1)} s`],
      ['… of which ffmpeg ran (median)', `${r.medianFfmpegSeconds.toFixed(1)} s`],
      ['seconds per video, same video posted as it is (baseline)', `${r.medianAsIsSeconds.toFixed(1)} s`],
      ['re-encoded / as-is', `${ratio.toFixed(1)} ×`],
      ['ffmpeg child peak RSS (VmHWM)', `${r.ffmpegPeakRssMiB.toFixed(0)} MiB`],
      [
        'bot peak RSS growth, re-encoded / as-is',
        `${r.botPeakGrowthMiB.toFixed(1)} / ${r.botPeakGrowthAsIsMiB.toFixed(1)} MiB`,
      ],
      [
        'bot largest event-loop stall, re-encoded / as-is',
        `${r.maxEventLoopStallMs.toFixed(1)} / ${r.maxEventLoopStallAsIsMs.toFixed(1)} ms`,
      ],
    ],
  );
}

/** 9. Sharded: acknowledgement p99 and RSS per shard process, 4 shards × 2,000 jobs against one process (shards.ts). */
async function shards(): Promise<void> {
  const r = await runShardBench({ quick, log: (line) => console.error(`  … ${line}`) });
  results.shards = r;
  console.log(formatShardResult(r));
}

async function main(): Promise<void> {
  console.log(
    `# Benchmarks${quick ? ' (quick)' : ''} — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`,
  );
  if (wanted('ack')) await ackLatency();
  if (wanted('polling')) await polling();
  if (wanted('edits')) await edits();
  if (wanted('scale')) await scale();
  if (wanted('delivery')) await deliveryMemory();
  if (wanted('autocomplete')) autocomplete();
  if (wanted('reencode')) await reencode();
  if (wanted('shards')) await shards();
  if (wanted('queue')) await queue();
  fs.mkdirSync('bench-results', { recursive: true });
  const file = path.join('bench-results', quick ? 'bench-quick.json' : 'bench.json');
  fs.writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`\nWrote ${file}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
