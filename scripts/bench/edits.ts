/**
 * Part 3 (issue #13): Discord as it really is for long jobs. Jobs of 2–120
 * minutes in one channel, with Discord's cap on edits of messages older than
 * an hour (429 / 30046), its per-route buckets and its global limit on, all
 * on the simulated clock. The bot runs in this process (CompressedTime), with
 * the messenger's observation point (AppOverrides.discordCalls) timing every
 * Discord request a job makes: how long a job step was held by Discord is
 * the figure that must stay within RATE_LIMIT_WAIT_MS.
 */
import { performance } from 'node:perf_hooks';
import type { Histogram, Metric } from 'prom-client';
import { createApp, type App } from '../../src/app.js';
import { ManualClock } from '../../src/clock.js';
import type { Job } from '../../src/db/jobs-repository.js';
import { isDeliveryOf } from '../../src/jobs/delivery-marker.js';
import { isIn } from '../../src/jobs/lifecycle.js';
import { MOVE_REPLY_AFTER_MS } from '../../src/jobs/presenter.js';
import type { DiscordCall } from '../../src/services/discord-messenger.js';
import { RATE_LIMIT_WAIT_MS } from '../../src/services/discord-rest.js';
import type { BucketSpec } from '../../emulators/discord/rate-limit.js';
import type { InteractionHandle, TimelineEntry } from '../../emulators/discord/types.js';
import { startWorld } from '../../emulators/world.js';
import { CompressedTime } from './compressed-time.js';
import { mulberry32, shuffle } from './sim/prng.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Per-route buckets keyed as Discord documents: "per-route rate limits often
 * account for top-level resources within the path … channels (channel_id),
 * guilds (guild_id), and webhooks (webhook_id or webhook_id + webhook_token)"
 * (developers/topics/rate-limits). So the bot's channel-route edits of every
 * message in a channel share one bucket, and an interaction's webhook routes
 * have theirs. The rates are not published; 5 per 5 s is the figure libraries
 * observe for sending messages per channel (javacord.org/wiki "Ratelimits")
 * and the emulator's default, used here for edits as well.
 */
export const ROUTE_BUCKETS: BucketSpec[] = [
  { routes: ['channel_edit'], limit: 5, windowMs: 5_000, per: 'channel' },
  { routes: ['channel_create'], limit: 5, windowMs: 5_000, per: 'channel' },
  { routes: ['webhook_edit'], limit: 5, windowMs: 5_000, per: 'message' },
  { routes: ['webhook_create'], limit: 5, windowMs: 5_000, per: 'channel' },
];

export interface EditsBenchOptions {
  jobs: number;
  /** Job lengths spread evenly from 2 minutes to this. */
  longestMin: number;
  /** One command every this many ms of simulated time, from the start. */
  arrivalEveryMs: number;
  seed: number;
  log?: (line: string) => void;
}

export interface EditsBenchResult {
  jobs: number;
  shortestJobMin: number;
  longestJobMin: number;
  delivered: number;
  /** Jobs whose video was posted exactly once. */
  postedOnce: number;
  simulatedMin: number;
  realS: number;
  editsPerJob: { mean: number; max: number };
  status429: { total: number; routeBucket: number; oldMessage30046: number; global: number };
  /** Times discord.js held a request before sending it (a bucket or the global limit ran out), without a 429. */
  heldByDiscordJs: number;
  /** Poller steps in all, and those that started more than 5 s after their job fell due (a slot held elsewhere). */
  steps: { count: number; lateOver5s: number };
  calls: {
    count: number;
    boundMs: number;
    totalS: number;
    p99Ms: number;
    longestMs: number;
    longestKind: string;
    /** Calls that held their job step longer than the bound, and the time beyond it. */
    overBound: number;
    overBoundS: number;
    /** What those calls were (kind and outcome), with how many. */
    overBoundKinds: Record<string, number>;
    refusedRateLimited: number;
  };
  moves: {
    /** Jobs whose progress message reached MOVE_REPLY_AFTER_MS while the job was still shown. */
    jobsThatNeededAMove: number;
    moved: number;
    /** Moves made before the message being left turned an hour old. */
    movedBeforeAnHour: number;
    /** Progress messages still the job's after turning an hour old while it ran, and the jobs' progress curves. */
    keptPastAnHour: number;
    keptPastAnHourByCurve: Record<string, number>;
    /** Edits that reached Discord for messages older than an hour (what the 30046 cap counts). */
    editsOfHourOldMessages: number;
  };
  trail: { longestS: number; medianS: number };
}

const percentile = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

/** The sum of a prom-client counter's values, optionally only those matching `where`. */
async function counterSum(app: App, name: string, where?: (labels: Record<string, unknown>) => boolean) {
  const metric = app.metrics.registry.getSingleMetric(name) as Metric | undefined;
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => !where || where(v.labels)).reduce((n, v) => n + v.value, 0);
}

/** Of a prom-client histogram: how many observations in all, and how many above the bucket bound `le`. */
async function histogramAbove(app: App, name: string, le: number) {
  const metric = app.metrics.registry.getSingleMetric(name) as Histogram | undefined;
  if (!metric) return { count: 0, above: 0 };
  const { values } = await metric.get();
  const count = values.find((v) => v.metricName === `${name}_count`)?.value ?? 0;
  const within = values.find((v) => v.metricName === `${name}_bucket` && v.labels.le === le)?.value ?? 0;
  return { count, above: count - within };
}

/**
 * How long the shown progress trailed the true one: at each simulated
 * second, how long ago upstream's progress first went past what the job's
 * messages showed, until the job's last shown state.
 */
function longestTrail(shown: { at: number; pct: number | undefined }[], truth: (t: number) => number, from: number) {
  const last = shown.at(-1);
  if (!last) return NaN;
  let worst = 0;
  for (let t = from; t < last.at; t += 1_000) {
    const pct = shown.findLast((e) => e.at <= t && e.pct !== undefined)?.pct ?? 0;
    if (truth(t) <= pct) continue;
    // Progress never goes down, so the first moment it passed `pct` is found by bisection.
    let lo = from;
    let hi = t;
    while (hi - lo > 100) {
      const mid = (lo + hi) / 2;
      if (truth(mid) > pct) hi = mid;
      else lo = mid;
    }
    worst = Math.max(worst, t - hi);
  }
  return worst;
}

export async function runEditsBench(options: EditsBenchOptions): Promise<EditsBenchResult> {
  const n = options.jobs;
  const rng = mulberry32(options.seed);
  // Lengths spread evenly over 2 minutes to the longest, in a shuffled order of arrival.
  const span = options.longestMin - 2;
  const lengths = shuffle(
    rng,
    Array.from({ length: n }, (_, i) => Math.round((2 + (span * i) / Math.max(1, n - 1)) * MINUTE)),
  );
  const clock = new ManualClock(Date.now());
  // Every window on the simulated clock, Retry-After in whole seconds as Discord sends it.
  const limits = { clock, retryAfterHeader: 'whole-seconds' as const };
  const buckets = ROUTE_BUCKETS;
  const w = await startWorld({
    clock,
    noBot: true,
    env: {
      DEFAULT_MAX_ACTIVE: '0',
      // Every job runs at once (the line is part 10's), and none times out before its 120 minutes.
      TUZI_MAX_RUNNING_JOBS: String(n),
      JOB_MAX_WAIT_MINUTES: '180',
      // The ops server on: its counters of discord.js's own rate-limit holds are read below.
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
    },
    discord: { rateLimit: { ...limits, buckets }, oldMessageEdits: limits, globalRateLimit: limits },
    tuzi: { jobDurationMs: 10 * MINUTE },
  });
  w.tuzi.setJobPlan((job) => {
    const i = Number(/#(\d+)$/.exec(job.prompt)?.[1] ?? job.index);
    return { durationMs: lengths[i] ?? 10 * MINUTE, curve: (['linear', 'steps', 'stall-90'] as const)[i % 3] };
  });
  const calls: DiscordCall[] = [];
  let app: App | undefined;
  const time = new CompressedTime(clock, () => app);
  try {
    app = createApp(w.config, { clock, timers: clock, discordCalls: (c) => calls.push(c) });
    await app.start();
    const started = clock.now();
    const realStart = performance.now();
    time.install();
    const handles: InteractionHandle[] = [];
    const messagesOf = new Map<string, string[]>(); // interaction id → its progress messages, in order
    const rows = new Map<string, Job>();
    const members = [w.users.alice, w.users.li];
    const tick = () => {
      while (handles.length < n && clock.now() >= started + handles.length * options.arrivalEveryMs) {
        const i = handles.length;
        handles.push(
          w.discord.invokeSlashCommand({
            guildId: w.guildId,
            channelId: w.channelId,
            userId: members[i % members.length]!,
            name: 'sora',
            options: { prompt: `edit bench #${i}` },
          }),
        );
      }
    };
    // Each job's messages, as its row names them over time (a move gives it a fresh one).
    const ended = new Set<string>();
    const follow = () => {
      for (const h of handles) {
        if (ended.has(h.id)) continue;
        const job = app!.jobs.getByInteraction(h.id);
        if (!job) continue;
        rows.set(h.id, job);
        const seen = messagesOf.get(h.id) ?? [];
        if (job.messageId && seen.at(-1) !== job.messageId) seen.push(job.messageId);
        messagesOf.set(h.id, seen);
        if (isIn(job.status, 'ended')) ended.add(h.id);
      }
    };
    const allEnded = () => handles.length === n && ended.size === n;
    await time.run({
      tick: () => {
        tick();
        follow();
      },
      until: allEnded,
      maxMs: 4 * HOUR,
      busy: () => handles.some((h) => h.ack === null && h.callbackErrors.length === 0),
      nextAt: () => (handles.length < n ? started + handles.length * options.arrivalEveryMs : Infinity),
    });
    time.uninstall();
    const realS = (performance.now() - realStart) / 1000;

    const timeline = w.discord.timeline(w.channelId);
    const byMessage = new Map<string, TimelineEntry[]>();
    for (const e of timeline) byMessage.set(e.messageId, [...(byMessage.get(e.messageId) ?? []), e]);
    const createdAt = (id: string) => byMessage.get(id)?.find((e) => e.kind === 'create')?.at ?? NaN;

    const channelMessages = w.discord.messages(w.channelId);
    const perJob = handles.map((h) => {
      const row = rows.get(h.id)!;
      const chain = [...(h.originalMessageId ? [h.originalMessageId] : [])];
      for (const id of messagesOf.get(h.id) ?? []) if (!chain.includes(id)) chain.push(id);
      if (row.messageId && !chain.includes(row.messageId)) chain.push(row.messageId);
      const own = [...chain, ...(row.deliveredMessageId ? [row.deliveredMessageId] : [])];
      const edits = own.reduce((k, id) => k + (byMessage.get(id) ?? []).filter((e) => e.kind === 'edit').length, 0);
      const upstream = w.tuzi.jobs.get(row.upstreamId ?? '');
      // How long each progress message served: until the next one was posted, or the job ended.
      const served = chain.map((id, k) => {
        const from = createdAt(id);
        const until = k + 1 < chain.length ? createdAt(chain[k + 1]!) : (row.finishedAt ?? clock.now());
        return {
          from,
          until,
          moved: k + 1 < chain.length,
          curve: typeof upstream?.plan.curve === 'string' ? upstream.plan.curve : 'custom',
        };
      });
      const shown = chain
        .flatMap((id) => byMessage.get(id) ?? [])
        .filter((e) => !e.loading)
        .sort((a, b) => a.seq - b.seq)
        .map((e) => {
          const pct = /(\d+)%/.exec(JSON.stringify(e.embeds))?.[1];
          return { at: e.at, pct: pct === undefined ? undefined : Number(pct) };
        });
      const truth = (t: number) => {
        const s = upstream!.stateAt(t);
        return s.status === 'completed' ? 100 : Math.floor(s.progress);
      };
      const videos = channelMessages.filter((m) => isDeliveryOf(m, row.id, undefined));
      return {
        row,
        edits,
        served,
        trail: upstream ? longestTrail(shown, truth, upstream.createdAt) : NaN,
        videos: videos.length,
      };
    });

    const requests = w.discord.requests;
    const r429 = requests.filter((r) => r.status === 429);
    const stats = w.discord.stats();
    const edits = perJob.map((j) => j.edits);
    const served = perJob.flatMap((j) => j.served);
    const durations = calls.map((c) => c.ms);
    const longest = calls.reduce<DiscordCall | undefined>((a, c) => (!a || c.ms > a.ms ? c : a), undefined);
    const over = calls.filter((c) => c.ms > RATE_LIMIT_WAIT_MS);
    const trails = perJob.map((j) => j.trail).filter((t) => !Number.isNaN(t));
    return {
      jobs: n,
      shortestJobMin: Math.min(...lengths) / MINUTE,
      longestJobMin: Math.max(...lengths) / MINUTE,
      delivered: perJob.filter((j) => j.row.status === 'delivered').length,
      postedOnce: perJob.filter((j) => j.row.deliveredMessageId !== null && j.videos === 1).length,
      simulatedMin: (clock.now() - started) / MINUTE,
      realS,
      editsPerJob: { mean: edits.reduce((a, b) => a + b, 0) / n, max: Math.max(...edits) },
      status429: {
        total: stats.status429,
        routeBucket: r429.filter((r) => r.fault === 'rate_limit').length,
        oldMessage30046: stats.oldMessageEditsRefused,
        global: stats.globalRateLimited,
      },
      heldByDiscordJs: await counterSum(app, 'sora_discord_rate_limited_total'),
      steps: await histogramAbove(app, 'sora_poller_step_delay_seconds', 5).then((h) => ({
        count: h.count,
        lateOver5s: h.above,
      })),
      calls: {
        count: calls.length,
        boundMs: RATE_LIMIT_WAIT_MS,
        totalS: durations.reduce((a, b) => a + b, 0) / 1000,
        p99Ms: percentile(durations, 99),
        longestMs: longest?.ms ?? 0,
        longestKind: longest ? `${longest.kind} (${longest.outcome})` : '-',
        overBound: over.length,
        overBoundS: over.reduce((s, c) => s + c.ms - RATE_LIMIT_WAIT_MS, 0) / 1000,
        overBoundKinds: over.reduce<Record<string, number>>((k, c) => {
          const key = `${c.kind} (${c.outcome})`;
          k[key] = (k[key] ?? 0) + 1;
          return k;
        }, {}),
        refusedRateLimited: calls.filter((c) => c.outcome === 'rate_limited').length,
      },
      moves: {
        jobsThatNeededAMove: perJob.filter((j) => j.served.some((s) => s.until - s.from >= MOVE_REPLY_AFTER_MS)).length,
        moved: served.filter((s) => s.moved).length,
        movedBeforeAnHour: served.filter((s) => s.moved && s.until - s.from < HOUR).length,
        keptPastAnHour: served.filter((s) => s.until - s.from >= HOUR).length,
        keptPastAnHourByCurve: served
          .filter((s) => s.until - s.from >= HOUR)
          .reduce<Record<string, number>>((k, x) => ({ ...k, [x.curve]: (k[x.curve] ?? 0) + 1 }), {}),
        editsOfHourOldMessages: timeline.filter((e) => e.kind === 'edit' && e.at - createdAt(e.messageId) > HOUR)
          .length,
      },
      trail: { longestS: Math.max(...trails) / 1000, medianS: percentile(trails, 50) / 1000 },
    };
  } finally {
    time.uninstall();
    await app?.stop(5_000);
    await w.close();
  }
}

export function editsRows(r: EditsBenchResult): [string, string | number][] {
  const s = (x: number) => `${x.toFixed(1)} s`;
  return [
    ['jobs delivered / video posted exactly once', `${r.delivered} / ${r.postedOnce} of ${r.jobs}`],
    ['simulated / real time', `${r.simulatedMin.toFixed(0)} min / ${s(r.realS)}`],
    ['edits per job, mean / max', `${r.editsPerJob.mean.toFixed(1)} / ${r.editsPerJob.max}`],
    [
      '429s received (route buckets / 30046 / global)',
      `${r.status429.total} (${r.status429.routeBucket} / ${r.status429.oldMessage30046} / ${r.status429.global})`,
    ],
    ['requests discord.js held for a rate limit (no 429)', r.heldByDiscordJs],
    [
      `Discord calls of the job messenger: count, total time held, p99, longest`,
      `${r.calls.count}, ${s(r.calls.totalS)}, ${r.calls.p99Ms.toFixed(1)} ms, ${r.calls.longestMs.toFixed(1)} ms (${r.calls.longestKind})`,
    ],
    [
      `… held longer than the bound (${r.calls.boundMs} ms): calls, time beyond it`,
      `${r.calls.overBound}, ${(r.calls.overBoundS * 1000).toFixed(0)} ms${
        r.calls.overBound
          ? ` — ${Object.entries(r.calls.overBoundKinds)
              .map(([k, v]) => `${v} × ${k}`)
              .join(', ')}`
          : ''
      }`,
    ],
    ['… given up as rate-limited (skipped or rescheduled)', r.calls.refusedRateLimited],
    ['job steps started more than 5 s after falling due', `${r.steps.lateOver5s} of ${r.steps.count}`],
    [
      `jobs still running when a progress message of theirs turned ${MOVE_REPLY_AFTER_MS / MINUTE} min old; moves, of which before the hour`,
      `${r.moves.jobsThatNeededAMove}; ${r.moves.moved}, ${r.moves.movedBeforeAnHour}`,
    ],
    [
      "progress messages kept past an hour (their jobs' curves) / edits of hour-old messages sent",
      `${r.moves.keptPastAnHour}${
        r.moves.keptPastAnHour
          ? ` (${Object.entries(r.moves.keptPastAnHourByCurve)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')})`
          : ''
      } / ${r.moves.editsOfHourOldMessages}`,
    ],
    [
      'longest time the shown progress trailed the true one / median per job',
      `${s(r.trail.longestS)} / ${s(r.trail.medianS)}`,
    ],
  ];
}
