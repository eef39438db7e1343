/**
 * Part 10 (issue #15): the fair line when the provider is full. Hundreds of
 * `/sora` arrive within a minute from several servers — one busy, the others
 * quiet — against a provider that runs 8 jobs per key at once and answers
 * 429 + Retry-After beyond that (the Tuzi emulator's `maxRunningJobs`). The
 * real bot runs in this process on compressed time (CompressedTime), with
 * Discord's global limit and its 30046 cap on. Measured from outside the
 * bot: the job rows (when each job was asked for and when it was sent), the
 * provider's own record of what ran when, and every request it received.
 */
import { performance } from 'node:perf_hooks';
import { createApp, type App } from '../../src/app.js';
import { ManualClock } from '../../src/clock.js';
import { statusesIn } from '../../src/jobs/lifecycle.js';
import type { InteractionHandle } from '../../emulators/discord/types.js';
import type { EmulatedJob } from '../../emulators/tuzi/jobs.js';
import { startWorld } from '../../emulators/world.js';
import { CompressedTime } from './compressed-time.js';
import { holdingOf, othersWait, worstHolding, type Holding } from './fair-share.js';
import { mulberry32, uniform } from './sim/prng.js';
import { percentile } from './stats.js';

const MINUTE = 60_000;

export interface QueueServer {
  name: string;
  /** Share of all jobs. */
  share: number;
  members: number;
}

export interface QueueBenchOptions {
  jobs: number;
  /** Commands arrive at random over this window. */
  arrivalMs: number;
  servers: QueueServer[];
  /** The provider's cap on running jobs per key (Tuzi emulator `maxRunningJobs`). */
  providerCap: number;
  /** The bot's TUZI_MAX_RUNNING_JOBS. */
  botCap: number;
  /** Job lengths upstream, uniform in this range (minutes). */
  jobMin: [number, number];
  seed: number;
}

export interface ServerWait {
  server: string;
  jobs: number;
  p50S: number;
  p95S: number;
  maxS: number;
}

export interface QueueBenchResult {
  jobs: number;
  providerCap: number;
  botCap: number;
  delivered: number;
  simulatedMin: number;
  realS: number;
  waits: ServerWait[];
  /** At each slot granted while another server waited: the receiving server's slots after it, against its fair share. */
  worstGrant: Holding | undefined;
  /** At any moment another server waited, counting slots taken before the others arrived. */
  worstHolding: (Holding & { atMin: number }) | undefined;
  /** The same, once every slot taken during the arrivals had turned over. */
  worstHoldingSettled: (Holding & { atMin: number }) | undefined;
  maxRunningUpstream: number;
  /** Slot-minutes the provider had free while jobs waited in line, as a share of all slot time while jobs waited. */
  idleSlotShare: number;
  upstream: { perJob: number; createsPerJob: number; create429: number; retrievesPerJob: number };
  discord: {
    requestsPerJob: number;
    editsPerJob: number;
    status429: number;
    /** Of those 429s: the global limit, and 30046 (edits of messages older than an hour). */
    global429: number;
    oldMessage30046: number;
    /** The 429s by route. */
    routes429: Record<string, number>;
  };
  acksLate: number;
  /**
   * Places shown in line, read from the replies' edits (en-US "3rd in line"):
   * edits that showed a new place, and those (after the last arrival) whose
   * place was further back than the same message's previous one.
   */
  places: { edits: number; movedBack: number; messagesMovedBack: number };
}

export async function runQueueBench(options: QueueBenchOptions): Promise<QueueBenchResult> {
  const rng = mulberry32(options.seed);
  const n = options.jobs;
  const clock = new ManualClock(Date.now());
  const limits = { clock, retryAfterHeader: 'whole-seconds' as const };
  const w = await startWorld({
    clock,
    noBot: true,
    env: {
      // Members may have many jobs at once: the line, not the per-member limit, is under test.
      DEFAULT_MAX_ACTIVE: '0',
      TUZI_MAX_RUNNING_JOBS: String(options.botCap),
    },
    // Discord's global limit and the 30046 cap on; its per-route buckets are part 3's subject and stay off
    // (the emulator's default), so the figures here are the line's: discord.js sleeps out each hold in real
    // time, and with 500 replies in five channels those holds, not the line, would set the pace.
    discord: { oldMessageEdits: limits, globalRateLimit: limits },
    tuzi: { maxRunningJobs: options.providerCap, jobDurationMs: 4 * MINUTE },
  });
  const servers = options.servers.map((s, k) => {
    const guild = k === 0 ? { id: w.guildId, channelId: w.channelId } : undefined;
    const created =
      guild ??
      (() => {
        const g = w.discord.createGuild({ name: s.name });
        return { id: g.id, channelId: g.channels[0]!.id };
      })();
    const members = Array.from(
      { length: s.members },
      (_, i) => w.discord.createUser({ username: `${s.name}_${i}`, guildIds: [created.id] }).id,
    );
    return { ...s, guildId: created.id, channelId: created.channelId, members };
  });
  const serverOfGuild = new Map(servers.map((s) => [s.guildId, s.name]));
  const totalShare = servers.reduce((a, s) => a + s.share, 0);
  const arrivals = Array.from({ length: n }, (_, i) => {
    let pick = rng() * totalShare;
    const server = servers.find((s) => (pick -= s.share) < 0) ?? servers.at(-1)!;
    return {
      i,
      at: uniform(rng, 0, options.arrivalMs),
      server,
      userId: server.members[Math.floor(rng() * server.members.length)]!,
      lengthMs: uniform(rng, options.jobMin[0], options.jobMin[1]) * MINUTE,
    };
  }).sort((a, b) => a.at - b.at);
  const lengthOf = new Map(arrivals.map((a) => [a.i, a.lengthMs]));
  const serverOfJob = new Map(arrivals.map((a) => [a.i, a.server.name]));
  w.tuzi.setJobPlan((job) => ({
    durationMs: lengthOf.get(Number(/#(\d+)$/.exec(job.prompt)?.[1])) ?? 4 * MINUTE,
    curve: 'linear',
  }));

  let app: App | undefined;
  const time = new CompressedTime(clock, () => app);
  try {
    app = createApp(w.config, { clock, timers: clock });
    await app.start();
    const started = clock.now();
    const realStart = performance.now();
    time.install();

    const handles: InteractionHandle[] = [];
    const upstream: { job: EmulatedJob; server: string }[] = [];
    const active = new Set<{ job: EmulatedJob; server: string }>();
    const grants: Holding[] = [];
    const moments: (Holding & { at: number })[] = [];
    let lastSample = clock.now();
    let idleSlotMs = 0;
    let slotMsWhileWaiting = 0;
    let maxRunning = 0;

    const sample = () => {
      const now = clock.now();
      const newJobs: { job: EmulatedJob; server: string }[] = [];
      if (w.tuzi.jobs.size > upstream.length) {
        const known = new Set(upstream.map((u) => u.job.id));
        for (const job of w.tuzi.jobs.values()) {
          if (known.has(job.id)) continue;
          const k = Number(/#(\d+)$/.exec(job.prompt)?.[1]);
          const entry = { job, server: serverOfJob.get(k) ?? '?' };
          upstream.push(entry);
          newJobs.push(entry);
          active.add(entry);
        }
      }
      for (const a of active) if (a.job.status !== 'queued' && a.job.status !== 'in_progress') active.delete(a);
      const running = new Map<string, number>();
      for (const a of active) running.set(a.server, (running.get(a.server) ?? 0) + 1);
      const waiting = new Map<string, number>();
      for (const row of waitingByGuild.all() as { guildId: string | null; n: number }[])
        waiting.set(serverOfGuild.get(row.guildId ?? '') ?? '?', row.n);
      const waitingTotal = [...waiting.values()].reduce((a, b) => a + b, 0);
      maxRunning = Math.max(maxRunning, active.size);
      if (waitingTotal > 0) {
        const dt = now - lastSample;
        slotMsWhileWaiting += dt * options.providerCap;
        idleSlotMs += dt * Math.max(0, options.providerCap - active.size);
      }
      lastSample = now;
      for (const g of newJobs)
        if (othersWait(g.server, waiting)) grants.push(holdingOf(g.server, running, waiting, options.providerCap));
      const worst = worstHolding(running, waiting, options.providerCap);
      if (worst) moments.push({ ...worst, at: now });
    };
    const invokeDue = () => {
      while (handles.length < n && clock.now() >= started + arrivals[handles.length]!.at) {
        const a = arrivals[handles.length]!;
        handles.push(
          w.discord.invokeSlashCommand({
            guildId: a.server.guildId,
            channelId: a.server.channelId,
            userId: a.userId,
            name: 'sora',
            options: { prompt: `${a.server.name} line bench #${a.i}` },
          }),
        );
      }
    };
    const ended = statusesIn('ended');
    const endedCount = app.db.prepare(
      `SELECT count(*) AS c FROM jobs WHERE status IN (${ended.map(() => '?').join(',')})`,
    );
    const waitingByGuild = app.db.prepare(
      "SELECT guild_id AS guildId, count(*) AS n FROM jobs WHERE status = 'waiting' GROUP BY guild_id",
    );
    const allEnded = () => handles.length === n && (endedCount.get(...ended) as { c: number }).c === n;
    await time.run({
      tick: () => {
        invokeDue();
        sample();
      },
      until: allEnded,
      maxMs: 24 * 60 * MINUTE,
      busy: () => handles.some((h) => h.ack === null && h.callbackErrors.length === 0),
      nextAt: () => (handles.length < n ? started + arrivals[handles.length]!.at : Infinity),
    });
    time.uninstall();
    const realS = (performance.now() - realStart) / 1000;

    const rows = handles.map((h) => app!.jobs.getByInteraction(h.id)!);
    const waits = servers.map((s) => {
      const mine = rows.filter((r) => r.guildId === s.guildId && r.submittedAt !== null);
      const secs = mine.map((r) => (r.submittedAt! - r.createdAt) / 1000);
      return {
        server: s.name,
        jobs: mine.length,
        p50S: percentile(secs, 50),
        p95S: percentile(secs, 95),
        maxS: Math.max(...secs),
      };
    });
    // Every slot taken during the arrivals has turned over once the last job created by then has ended.
    const settledAt = Math.max(
      ...upstream
        .filter((u) => u.job.createdAt <= started + options.arrivalMs)
        .map((u) => u.job.completedAt ?? u.job.createdAt + u.job.plan.durationMs),
    );
    const worstOf = (list: (Holding & { at: number })[]) => {
      const worst = list.reduce<(Holding & { at: number }) | undefined>(
        (a, m) => (!a || m.excess > a.excess ? m : a),
        undefined,
      );
      return worst && { ...worst, atMin: (worst.at - started) / MINUTE };
    };
    const places = { edits: 0, movedBack: 0, messagesMovedBack: 0 };
    for (const server of servers) {
      const last = new Map<string, number>();
      const back = new Set<string>();
      for (const e of w.discord.timeline(server.channelId)) {
        const m = /(\d+)(?:st|nd|rd|th) in line/.exec(JSON.stringify(e.embeds));
        if (!m) continue;
        const place = Number(m[1]);
        const before = last.get(e.messageId);
        if (before !== place) places.edits++;
        // While commands still arrive, a quiet server's new job rightly goes ahead of a busy server's.
        if (before !== undefined && place > before && e.at > started + options.arrivalMs) {
          places.movedBack++;
          back.add(e.messageId);
        }
        last.set(e.messageId, place);
      }
      places.messagesMovedBack += back.size;
    }
    const req = w.tuzi.requests;
    const creates = req.filter((r) => r.route === 'create');
    const dreq = w.discord.requests;
    return {
      jobs: n,
      providerCap: options.providerCap,
      botCap: options.botCap,
      delivered: rows.filter((r) => r.status === 'delivered').length,
      simulatedMin: (clock.now() - started) / MINUTE,
      realS,
      waits,
      worstGrant: grants.reduce<Holding | undefined>((a, g) => (!a || g.excess > a.excess ? g : a), undefined),
      worstHolding: worstOf(moments),
      worstHoldingSettled: worstOf(moments.filter((m) => m.at >= settledAt)),
      maxRunningUpstream: maxRunning,
      idleSlotShare: slotMsWhileWaiting > 0 ? idleSlotMs / slotMsWhileWaiting : 0,
      upstream: {
        perJob: req.length / n,
        createsPerJob: creates.length / n,
        create429: creates.filter((r) => r.status === 429).length,
        retrievesPerJob: req.filter((r) => r.route === 'retrieve').length / n,
      },
      discord: {
        requestsPerJob: dreq.length / n,
        editsPerJob: dreq.filter((r) => r.route === 'webhook_edit' || r.route === 'channel_edit').length / n,
        status429: dreq.filter((r) => r.status === 429).length,
        global429: w.discord.stats().globalRateLimited,
        oldMessage30046: w.discord.stats().oldMessageEditsRefused,
        routes429: dreq
          .filter((r) => r.status === 429)
          .reduce<Record<string, number>>((k, r) => ({ ...k, [r.route]: (k[r.route] ?? 0) + 1 }), {}),
      },
      places,
      acksLate: handles.filter((h) => h.callbackErrors.length > 0 || (h.ack?.afterMs ?? Infinity) > 3_000).length,
    };
  } finally {
    time.uninstall();
    await app?.stop(5_000);
    await w.close();
  }
}

export function queueRows(r: QueueBenchResult): [string, string | number][] {
  const s = (x: number) => (x >= 600 ? `${(x / 60).toFixed(1)} min` : `${x.toFixed(1)} s`);
  const holding = (h: Holding | undefined, at?: number) =>
    h
      ? `${h.server} ${h.held} of ${r.providerCap} (fair share ${h.fair.toFixed(2)}, +${h.excess.toFixed(2)})${at === undefined ? '' : ` at ${at.toFixed(1)} min`}`
      : 'never while others waited';
  return [
    ['jobs delivered', `${r.delivered} of ${r.jobs}`],
    ['simulated / real time', `${r.simulatedMin.toFixed(0)} min / ${r.realS.toFixed(1)} s`],
    ...r.waits.map((w): [string, string] => [
      `time in line, ${w.server} (${w.jobs} jobs): p50 / p95 / max`,
      `${s(w.p50S)} / ${s(w.p95S)} / ${s(w.maxS)}`,
    ]),
    ['largest holding when a slot was granted while others waited (target ≤ fair + 1)', holding(r.worstGrant)],
    [
      '… at any moment others waited, slots taken before they arrived included',
      holding(r.worstHolding, r.worstHolding?.atMin),
    ],
    [
      '… once the slots taken during the arrivals had turned over',
      holding(r.worstHoldingSettled, r.worstHoldingSettled?.atMin),
    ],
    ['most jobs running upstream at once (provider cap)', `${r.maxRunningUpstream} (${r.providerCap})`],
    ['provider slots left free while jobs waited', `${(r.idleSlotShare * 100).toFixed(1)} %`],
    [
      'upstream requests per job: all / creates / status GETs; 429s on create',
      `${r.upstream.perJob.toFixed(1)} / ${r.upstream.createsPerJob.toFixed(2)} / ${r.upstream.retrievesPerJob.toFixed(1)}; ${r.upstream.create429}`,
    ],
    [
      'Discord requests per job / of which edits; 429s (global / 30046; by route)',
      `${r.discord.requestsPerJob.toFixed(1)} / ${r.discord.editsPerJob.toFixed(1)}; ${r.discord.status429} (${r.discord.global429} / ${r.discord.oldMessage30046}; ${
        Object.entries(r.discord.routes429)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ') || 'none'
      })`,
    ],
    [
      'edits showing a new place in line / places moved back after the arrivals (replies)',
      `${r.places.edits} / ${r.places.movedBack} (${r.places.messagesMovedBack})`,
    ],
    ['acknowledgements later than 3 s or refused', r.acksLate],
  ];
}
