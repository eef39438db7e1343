/**
 * `npm run bench [-- --quick]`: the numbers that show the bot is fast and
 * frugal. Prints a table per part and writes bench-results/bench.json.
 * Everything runs against the emulators on 127.0.0.1; timing figures live
 * here, never in the test suite.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { TuziClient } from '../../src/services/tuzi/client.js';
import { newJob } from '../../emulators/job-rows.js';
import { spawnBot, startWorld, type World } from '../../emulators/world.js';
import { formatPollingTable, runPollingBench } from './polling.js';

const quick = process.argv.includes('--quick');
/** `--only ack,polling,…` runs some parts (names: ack, polling, edits, scale, delivery, autocomplete). */
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const wanted = (part: string) => !only || only.includes(part);
const MINUTE = 60_000;
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const rssMiB = () => process.memoryUsage().rss / MiB;
const results: Record<string, unknown> = {
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  },
  quick,
};

function table(title: string, rows: [string, string | number][]): void {
  console.log(`\n## ${title}`);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${typeof v === 'number' ? Number(v.toFixed(2)) : v}`);
}

/** 1. Acknowledgement latency of a burst of /sora, real time. */
async function ackLatency(): Promise<void> {
  const n = quick ? 40 : 200;
  const w = await startWorld({
    env: { DEFAULT_MAX_ACTIVE: '0', TUZI_MAX_CONCURRENCY: '8' },
    tuzi: { jobDurationMs: 60 * MINUTE },
  });
  try {
    const users = Array.from(
      { length: n },
      (_, i) => w.discord.createUser({ username: `b${i}`, guildIds: [w.guildId] }).id,
    );
    const handles = users.map((u, i) =>
      w.discord.invokeSlashCommand({
        guildId: w.guildId,
        channelId: w.channelId,
        userId: u,
        name: 'sora',
        options: { prompt: `burst ${i}` },
      }),
    );
    const acks = await Promise.all(handles.map((h) => h.acknowledged(20_000)));
    const ms = acks.map((a) => a.afterMs);
    const late = handles.filter((h) => h.callbackErrors.length > 0).length;
    results.ack = {
      commands: n,
      p50Ms: percentile(ms, 50),
      p99Ms: percentile(ms, 99),
      maxMs: Math.max(...ms),
      refused: late,
    };
    table(`1. Acknowledgement latency — ${n} /sora at once (target p99 < 250 ms; Discord allows 3,000)`, [
      ['p50', `${percentile(ms, 50)} ms`],
      ['p99', `${percentile(ms, 99)} ms`],
      ['max', `${Math.max(...ms)} ms`],
      ['callbacks refused (10062/40060)', late],
    ]);
    await w.settle(60_000).catch(() => undefined);
  } finally {
    await w.close();
  }
}

/** 2. Polling economy on a simulated clock (our policy against peers'). */
async function polling(): Promise<void> {
  const r = await runPollingBench({ jobs: quick ? 200 : 1000, seed: 42 });
  results.polling = r;
  console.log('\n## 2. Polling economy and completion lag');
  console.log(formatPollingTable(r));
}

/** 3. Discord edits per job with Discord's per-message buckets on. */
async function edits(): Promise<void> {
  const n = quick ? 10 : 50;
  const clock = new ManualClock(Date.now());
  const w = await startWorld({
    clock,
    env: { DEFAULT_MAX_ACTIVE: '0' },
    discord: { rateLimit: { clock } },
    tuzi: { jobDurationMs: 6 * MINUTE },
  });
  try {
    w.tuzi.setJobPlan((job) => ({
      curve: (['linear', 'steps', 'stall-90'] as const)[job.index % 3],
      durationMs: (2 + (job.index % 10)) * MINUTE,
    }));
    const handles = Array.from({ length: n }, (_, i) =>
      w.discord.invokeSlashCommand({
        guildId: w.guildId,
        channelId: w.channelId,
        userId: w.users.alice,
        name: 'sora',
        options: { prompt: `edit bench ${i}` },
      }),
    );
    await Promise.all(handles.map((h) => h.acknowledged()));
    await w.settle();
    const done = () => w.app!.jobs.recentForUser(w.users.alice, n).every((j) => j.status === 'delivered');
    await w.advanceUntil(done, 30 * MINUTE, 1_000);
    const timeline = w.discord.timeline(w.channelId);
    const perJob = handles.map(
      (h) => timeline.filter((e) => e.messageId === h.originalMessageId && e.kind === 'edit').length,
    );
    // Longest stretch a reply went without a visible change while its job ran.
    const gaps = handles.map((h) => {
      const at = timeline.filter((e) => e.messageId === h.originalMessageId && e.changed).map((e) => e.at);
      return Math.max(0, ...at.slice(1).map((t, i) => t - at[i]!));
    });
    const stats = w.discord.stats();
    results.edits = {
      jobs: n,
      editsMean: perJob.reduce((a, b) => a + b, 0) / n,
      editsMax: Math.max(...perJob),
      status429: stats.status429,
      longestVisibleGapS: Math.max(...gaps) / 1000,
    };
    table(`3. Discord edits per job — ${n} jobs of 2–11 min, per-message buckets on (target 0 × 429)`, [
      ['edits per job, mean', perJob.reduce((a, b) => a + b, 0) / n],
      ['edits per job, max', Math.max(...perJob)],
      ['429 answers', stats.status429],
      ['longest time without a visible change (a stall near 90% included)', `${Math.max(...gaps) / 1000} s`],
    ]);
  } finally {
    await w.close();
  }
}

/** Puts `n` jobs that exist upstream into the database as unfinished, as a previous process left them. */
async function seedUnfinished(w: World, n: number): Promise<void> {
  const client = new TuziClient({ baseUrl: w.tuzi.url, apiKey: 'seed', maxConcurrency: 16 });
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, k) =>
        client.createVideo({ model: 'sora-2', prompt: `seeded ${i + k}` }),
      ),
    );
    ids.push(...batch.map((t) => t.id));
  }
  await client.close();
  const jobs = new JobsRepository(w.app!.db);
  const now = w.clock.now();
  ids.forEach((upstreamId, i) => {
    const r = jobs.insertWithinQuota(
      newJob({
        interactionId: `${1_400_000_000_000_000_000n + BigInt(i)}`,
        applicationId: w.discord.applicationId,
        guildId: w.guildId,
        channelId: w.channelId,
        userId: w.users.alice,
        interactionToken: 'expired-token-xxxxxxxxxxxxxxxxxxxxxx',
        tokenExpiresAt: now - 1,
        prompt: `seeded ${i}`,
      }),
      { maxActive: 0, dailyLimit: 0, dayStart: 0 },
      now,
    );
    if (r.ok)
      jobs.transition(
        r.job.id,
        'submitting',
        'queued',
        { upstreamId, submittedAt: now, progressChangedAt: now, nextRunAt: now },
        now,
      );
  });
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
  try {
    w.tuzi.setJobPlan((job) => ({
      durationMs: (2 + (job.index % 11)) * MINUTE,
      curve: (['linear', 'steps', 'stall-90'] as const)[job.index % 3],
    }));
    await w.startBot();
    await seedUnfinished(w, n);
    await w.stopBot();
    const baseline = w.tuzi.requests.length;

    // 5. Restart: the time until every job was polled once, and the largest burst.
    let maxInFlight = 0;
    const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, w.app?.upstreamInFlight() ?? 0)), 1);
    const started = Date.now();
    const polled = () =>
      new Set(
        w.tuzi.requests
          .slice(baseline)
          .filter((r) => r.route === 'retrieve')
          .map((r) => r.jobId),
      ).size;
    await w.startBot();
    let simulated = 0;
    while (polled() < n && simulated < 10 * MINUTE) {
      await w.advance(1_000, 1_000);
      simulated += 1_000;
    }
    const restartS = (Date.now() - started) / 1000;
    results.restart = {
      jobs: n,
      allPolledOnceRealS: restartS,
      simulatedS: simulated / 1000,
      polled: polled(),
      maxConcurrentGets: maxInFlight,
      cap,
    };
    table(`5. Restart with ${n} unfinished jobs`, [
      ['every job polled once after (real)', `${restartS.toFixed(1)} s`],
      ['… of simulated time (spread window)', `${simulated / 1000} s`],
      ['largest burst of concurrent upstream requests, sampled (cap)', `${maxInFlight} (${cap})`],
    ]);

    // 4. Scale: run all of them to the end on compressed time.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    const changes0 = (w.app!.db.prepare('SELECT total_changes() AS c').get() as { c: number }).c;
    let peakRss = rssMiB();
    const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMiB())), 20);
    const finished = () =>
      (
        w
          .app!.db.prepare(
            "SELECT count(*) AS c FROM jobs WHERE status IN ('delivered','failed','delivery_failed','timed_out')",
          )
          .get() as { c: number }
      ).c;
    while (finished() < n && simulated < 40 * MINUTE) {
      await w.advance(2_000, 2_000);
      simulated += 2_000;
    }
    clearInterval(rssTimer);
    clearInterval(sampler);
    loop.disable();
    const wallS = (Date.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const writes = (w.app!.db.prepare('SELECT total_changes() AS c').get() as { c: number }).c - changes0;
    results.scale = {
      jobs: n,
      finished: finished(),
      wallS,
      cpuShare: (cpu.user + cpu.system) / 1e6 / wallS,
      peakRssMiB: peakRss,
      sqliteWritesPerS: writes / wallS,
      maxEventLoopStallMs: loop.max / 1e6,
      maxConcurrentGets: maxInFlight,
      cap,
    };
    table(`4. Scale — ${n} unfinished jobs to the end (targets: RSS < 250 MB, ≤ cap, no stall > 100 ms)`, [
      ['jobs finished', `${finished()} / ${n}`],
      ['wall time (compressed)', `${wallS.toFixed(1)} s`],
      ['CPU share of one core (bot + emulators)', (cpu.user + cpu.system) / 1e6 / wallS],
      ['peak RSS (bot + emulators, one process)', `${peakRss.toFixed(0)} MiB`],
      ['SQLite row writes per second', (writes / wallS).toFixed(0)],
      ['largest event-loop stall', `${(loop.max / 1e6).toFixed(1)} ms`],
      ['largest burst of concurrent upstream requests, sampled (cap)', `${maxInFlight} (${cap})`],
    ]);
  } finally {
    await w.close();
  }
}

/** 6. Posting a 50 MiB video: peak RSS growth. */
async function deliveryMemory(): Promise<void> {
  const size = 50 * MiB;
  // The bot runs in its own process here, so its memory is measured alone
  // (the emulators buffer what they receive and would hide the figure).
  const w = await startWorld({
    noBot: true,
    logLevel: 'info',
    discord: { defaultUploadLimitBytes: 100 * MiB },
    tuzi: { jobDurationMs: 2_000 },
    env: { POLL_MIN_SECONDS: '1', POLL_MAX_SECONDS: '2' },
  });
  const child = await spawnBot(w);
  const rssOf = (field: 'VmRSS' | 'VmHWM') => {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  };
  try {
    w.tuzi.injectFault({ kind: 'oversized', route: ['video', 'content'], bytes: size, times: Infinity });
    await sleep(1_000);
    const before = rssOf('VmRSS');
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, rssOf('VmRSS'))), 5);
    const h = w.discord.invokeSlashCommand({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: w.users.alice,
      name: 'sora',
      options: { prompt: 'fifty MiB' },
      attachmentSizeLimit: 100 * MiB,
    });
    await h.acknowledged(10_000);
    const posted = await w.discord.waitFor(
      () => w.discord.messages(w.channelId).find((m) => m.attachments.some((a) => a.size === size)),
      { timeoutMs: 60_000, what: 'the 50 MiB video' },
    );
    clearInterval(timer);
    results.delivery = {
      videoMiB: size / MiB,
      uploadedMiB: posted.attachments[0]!.size / MiB,
      botRssBeforeMiB: before,
      botPeakGrowthMiB: peak - before,
    };
    table('6. Delivery memory — one 50 MiB video downloaded and posted (the bot in its own process)', [
      ['uploaded to Discord', `${(posted.attachments[0]!.size / MiB).toFixed(1)} MiB as an attachment`],
      ['bot RSS before', `${before.toFixed(0)} MiB`],
      ['bot peak RSS growth', `${(peak - before).toFixed(1)} MiB`],
    ]);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await w.close();
  }
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
          'submitting',
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
