/**
 * Benchmark part 2 — polling economy and completion lag, per way of reporting.
 *
 * For each shape (sim/jobs.ts: smooth, coarse steps, none, stall at 99 %,
 * long queue, a provider slowing over the day, a mix of models) the same
 * seeded jobs are replayed against our policy and the peers' on one
 * simulated clock: nothing waits, and the same seed gives the same numbers.
 * Jobs arrive over a simulated day and overlap; all of a policy's jobs run
 * in one event loop, so ours learns from the jobs that ended before each
 * decision — as the bot does — and from nothing else.
 *
 * Per policy: GET requests per job, completion-detection lag (from the moment
 * upstream first reports completed or failed to the GET that sees it), jobs
 * lost to giving up, and the longest stretch a change of progress went
 * unshown (sampled every simulated second up to detection; for a lost job up
 * to its true end).
 */
import { Heap } from '../../src/heap.js';
import { nextPollDelay, type PollSnapshot } from '../../src/services/poll-policy.js';
import { buildPrior, type FinishedJob, viewFor, withFinishedJob } from '../../src/services/poll-prior.js';
import {
  type CurveKind,
  type ShapeId,
  type SimJob,
  SHAPE_IDS,
  SHAPES,
  buildJob,
  generateJobs,
  linearCurve,
  observe,
  trueProgress,
} from './sim/jobs.js';
import { DEFAULT_BOUNDS, PEER_POLICIES, type PolicyRun, type PollingPolicy, ourPolicy } from './sim/policies.js';
import { deriveSeed, mulberry32 } from './sim/prng.js';

export interface Distribution {
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

export interface KindStats {
  jobs: number;
  lost: number;
  requestsMean: number;
  lagP50Ms: number | null;
  lagP95Ms: number | null;
}

export interface PolicyStats {
  id: string;
  label: string;
  note: string;
  jobs: number;
  /** Jobs whose end (completed or failed) was seen by a GET. */
  detected: number;
  /** Jobs whose poller gave up (or timed out) before seeing the end. */
  lost: number;
  requestsPerJob: Distribution;
  /** Over detected jobs only; null when none was detected. */
  lagMs: Distribution | null;
  /** Per job: the longest stretch in which the display did not reflect a change of ≥1 point (includes completion lag). */
  longestUnreflectedMs: { p50: number; p95: number; max: number };
  /** Per kind of job in the shape (its curve). */
  byKind: Partial<Record<CurveKind, KindStats>>;
}

export interface TargetCheck {
  name: string;
  target: string;
  actual: string;
  pass: boolean;
}

export interface ShapeResult {
  shape: ShapeId;
  label: string;
  note: string;
  reportsProgress: boolean;
  jobs: number;
  policies: PolicyStats[];
  /** Ours against the targets for this shape. */
  targets: TargetCheck[];
  allTargetsMet: boolean;
}

export interface PollingBenchResult {
  jobsPerShape: number;
  seed: number;
  boundsMs: { min: number; max: number };
  shapes: ShapeResult[];
  allTargetsMet: boolean;
  /** A 30 s job (no queue, linear progress) under our policy with the default bounds and no history. */
  thirtySecondJob: { polls: number; distinctInProgressValues: number[]; detectedAfterMs: number | null };
  /** What the schedule costs per poll with a full prior, against the schedule without one, measured side by side. */
  scheduleCost: ScheduleCost;
}

export interface ScheduleCost {
  calls: number;
  withoutPriorNsPerCall: number;
  withPriorNsPerCall: number;
  /** withPrior / without. */
  ratio: number;
  /** One finished job fed into a prior of `priorJobs` jobs, with the first decision that uses it. */
  updateUsPerJob: number;
  /** Building that prior at start, with a first decision for each group. */
  buildMs: number;
  priorJobs: number;
}

interface JobOutcome {
  requests: number;
  lagMs: number | null;
  longestUnreflectedMs: number;
  inProgressSeen: number[];
}

/** A safety stop for a policy that would poll forever. */
const HARD_STOP_MS = 24 * 3_600_000;

/** The fleet's event queue: (time, then order of scheduling) → job index. */
class EventQueue {
  private readonly heap = new Heap<{ t: number; seq: number; job: number }>(
    (x, y) => x.t < y.t || (x.t === y.t && x.seq < y.seq),
  );
  private seq = 0;

  get size(): number {
    return this.heap.size;
  }

  push(t: number, job: number): void {
    this.heap.push({ t, seq: this.seq++, job });
  }

  pop(): { t: number; job: number } | undefined {
    return this.heap.pop();
  }
}

interface Track {
  run?: PolicyRun;
  requests: number;
  pollTimes: number[];
  shown: number[];
  inProgressSeen: number[];
  display: number;
  detectedAt: number | null;
}

/**
 * Replays one policy over all the jobs in one event loop (one bot process):
 * submissions and GETs in time order, so a learning policy knows exactly
 * the ends seen before each decision.
 */
export function replayFleet(jobs: readonly SimJob[], policy: PollingPolicy, seed: number): JobOutcome[] {
  const fleet = policy.fleet();
  const tracks: Track[] = jobs.map(() => ({
    requests: 0,
    pollTimes: [],
    shown: [],
    inProgressSeen: [],
    display: 0,
    detectedAt: null,
  }));
  const queue = new EventQueue();
  const submitted = new Uint8Array(jobs.length);
  jobs.forEach((job, i) => queue.push(job.submitAt, i));
  const schedule = (i: number, at: number, delay: number | null) => {
    const job = jobs[i];
    if (!job || delay === null || at + delay >= HARD_STOP_MS) return;
    queue.push(job.submitAt + at + Math.max(0, delay), i);
  };
  while (queue.size > 0) {
    const e = queue.pop();
    const job = e && jobs[e.job];
    const track = e && tracks[e.job];
    if (!e || !job || !track) break;
    if (!submitted[e.job]) {
      submitted[e.job] = 1;
      track.run = fleet.start(mulberry32(deriveSeed(seed, 1000 + job.id)), {
        id: job.id,
        group: job.group,
        submitAt: job.submitAt,
      });
      schedule(e.job, 0, track.run.afterSubmit({ status: 'queued', progress: 0 }));
      continue;
    }
    const run = track.run;
    if (!run) continue;
    const at = e.t - job.submitAt;
    track.requests += 1;
    const seen = observe(job, at);
    if (seen.status === 'completed' || seen.status === 'failed') {
      track.detectedAt = at;
      run.ended?.(at, seen);
      continue;
    }
    track.display = Math.max(track.display, Math.min(99, seen.progress));
    if (seen.status === 'in_progress' && seen.progress > 0) track.inProgressSeen.push(seen.progress);
    track.pollTimes.push(at);
    track.shown.push(track.display);
    schedule(e.job, at, run.afterPoll(at, seen, track.requests));
  }
  return jobs.map((job, i) => outcomeOf(job, tracks[i] as Track));
}

/** The longest stretch, sampled every simulated second, in which the display trailed a change of ≥1 point. */
function outcomeOf(job: SimJob, t: Track): JobOutcome {
  const until = t.detectedAt ?? job.endMs;
  let shownNow = 0;
  let next = 0;
  let diffSince: number | null = null;
  let longest = 0;
  for (let s = 1000; s < until; s += 1000) {
    while (next < t.pollTimes.length && (t.pollTimes[next] ?? Infinity) <= s) {
      if (diffSince !== null) longest = Math.max(longest, (t.pollTimes[next] ?? s) - diffSince);
      diffSince = null;
      shownNow = t.shown[next] ?? shownNow;
      next += 1;
    }
    if (Math.abs(trueProgress(job, s) - shownNow) >= 1) {
      diffSince ??= s;
      longest = Math.max(longest, s - diffSince);
    }
  }
  if (diffSince !== null) longest = Math.max(longest, until - diffSince);
  return {
    requests: t.requests,
    lagMs: t.detectedAt === null ? null : t.detectedAt - job.endMs,
    longestUnreflectedMs: longest,
    inProgressSeen: t.inProgressSeen,
  };
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? NaN;
}

function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { mean, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) ?? NaN };
}

export function evaluatePolicy(jobs: readonly SimJob[], policy: PollingPolicy, seed: number): PolicyStats {
  const outcomes = replayFleet(jobs, policy, seed);
  const lags = outcomes.flatMap((o) => (o.lagMs === null ? [] : [o.lagMs]));
  const longest = distribution(outcomes.map((o) => o.longestUnreflectedMs));
  const byKind: Partial<Record<CurveKind, KindStats>> = {};
  for (const kind of new Set(jobs.map((j) => j.kind))) {
    const mine = outcomes.filter((_, i) => jobs[i]?.kind === kind);
    const kindLags = mine.flatMap((o) => (o.lagMs === null ? [] : [o.lagMs]));
    const lagDist = kindLags.length > 0 ? distribution(kindLags) : null;
    byKind[kind] = {
      jobs: mine.length,
      lost: mine.length - kindLags.length,
      requestsMean: mine.reduce((a, o) => a + o.requests, 0) / Math.max(1, mine.length),
      lagP50Ms: lagDist?.p50 ?? null,
      lagP95Ms: lagDist?.p95 ?? null,
    };
  }
  return {
    id: policy.id,
    label: policy.label,
    note: policy.note,
    jobs: jobs.length,
    detected: lags.length,
    lost: jobs.length - lags.length,
    requestsPerJob: distribution(outcomes.map((o) => o.requests)),
    lagMs: lags.length > 0 ? distribution(lags) : null,
    longestUnreflectedMs: { p50: longest.p50, p95: longest.p95, max: longest.max },
    byKind,
  };
}

/** The 30-second job: submitted, ~30 s of smooth progress, no queue, no history. */
export function thirtySecondJob(
  policy: PollingPolicy = ourPolicy({ learn: false }),
): PollingBenchResult['thirtySecondJob'] {
  const job = buildJob(0, 'smooth', 0, 30_000, linearCurve, 'completed');
  const [o] = replayFleet([job], policy, 1);
  if (!o) throw new Error('no outcome');
  return {
    polls: o.requests,
    distinctInProgressValues: [...new Set(o.inProgressSeen)],
    detectedAfterMs: o.lagMs === null ? null : job.endMs + o.lagMs,
  };
}

const sec = (ms: number | null | undefined, digits = 1) =>
  ms === null || ms === undefined || Number.isNaN(ms) ? '—' : `${(ms / 1000).toFixed(digits)} s`;
const gets = (p: PolicyStats) => p.requestsPerJob.mean;
const lagP95 = (p: PolicyStats) => p.lagMs?.p95 ?? Infinity;

/** The acceptance for one shape. */
export function checkShape(shape: ShapeId, ours: PolicyStats, peers: readonly PolicyStats[]): TargetCheck[] {
  const spec = SHAPES[shape];
  const checks: TargetCheck[] = [{ name: 'jobs lost', target: '0', actual: String(ours.lost), pass: ours.lost === 0 }];
  // A peer that gives up on jobs we see through is not better, whatever its figures over the rest.
  const dominating = peers.filter((p) => p.lost <= ours.lost && gets(p) < gets(ours) && lagP95(p) < lagP95(ours));
  checks.push({
    name: 'no peer (losing no more jobs) better on both GET/job and lag p95',
    target: 'none',
    actual: dominating.length === 0 ? 'none' : dominating.map((p) => p.label).join(', '),
    pass: dominating.length === 0,
  });
  if (spec.reportsProgress) {
    const sparsest = peers.filter((p) => p.lost === 0).sort((a, b) => gets(a) - gets(b))[0];
    checks.push(
      {
        name: 'lag p50',
        target: '≤ 2 s',
        actual: sec(ours.lagMs?.p50),
        pass: ours.lagMs !== null && ours.lagMs.p50 <= 2_000,
      },
      { name: 'lag p95', target: '≤ 6 s', actual: sec(ours.lagMs?.p95), pass: lagP95(ours) <= 6_000 },
    );
    if (sparsest)
      checks.push({
        name: 'GET/job below the sparsest peer that loses no job',
        target: `< ${gets(sparsest).toFixed(1)} (${sparsest.label})`,
        actual: gets(ours).toFixed(1),
        pass: gets(ours) < gets(sparsest),
      });
  }
  if (shape === 'none') {
    const tenSeconds = peers.find((p) => p.id === 'fixed-10s');
    checks.push({ name: 'lag p95', target: '≤ 10 s', actual: sec(ours.lagMs?.p95), pass: lagP95(ours) <= 10_000 });
    if (tenSeconds)
      checks.push({
        name: 'GET/job no more than the fixed 10 s poller',
        target: `≤ ${gets(tenSeconds).toFixed(1)}`,
        actual: gets(ours).toFixed(1),
        pass: gets(ours) <= gets(tenSeconds),
      });
  }
  return checks;
}

/** Schedule cost on this machine: ns per nextPollDelay call with a full prior and without, side by side. */
export function measureScheduleCost(seed: number, calls = 200_000): ScheduleCost {
  const rng = mulberry32(deriveSeed(seed, 7));
  const groups = [
    { model: 'sora-2', seconds: 10, size: '1280x720' },
    { model: 'sora-2', seconds: 15, size: '720x1280' },
    { model: 'sora-2-pro', seconds: 25, size: '1792x1024' },
    { model: 'veo3', seconds: 8, size: '16:9' },
  ];
  const finished: FinishedJob[] = Array.from({ length: 1_000 }, (_, i) => {
    const submittedAt = i * 60_000;
    const startedAt = submittedAt + Math.round(rng() * 60_000);
    const endedAt = startedAt + Math.round(120_000 + rng() * 600_000);
    const endProgress = rng() < 0.5 ? 99 : Math.floor(rng() * 100);
    return {
      jobId: i,
      ...(groups[i % groups.length] ?? groups[0]!),
      submittedAt,
      startedAt,
      startedProgress: 0,
      endProgress,
      endProgressAt: endProgress === 0 ? submittedAt : endedAt - Math.round(rng() * 60_000),
      prevPollAt: endedAt - 3_000,
      endedAt,
      outcome: 'completed',
    };
  });
  // A group's summary is worked out when first asked: each cost below includes that first answer.
  const t0 = process.hrtime.bigint();
  const prior = buildPrior(finished);
  for (const g of groups) viewFor(prior, g);
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const extra = finished.slice(0, 50).map((f, i) => ({ ...f, jobId: 10_000 + i, endedAt: f.endedAt + 1e9 }));
  const t1 = process.hrtime.bigint();
  let p = prior;
  for (const f of extra) {
    p = withFinishedJob(p, f);
    viewFor(p, f);
  }
  const updateUsPerJob = Number(process.hrtime.bigint() - t1) / 1e3 / extra.length;
  const snapshots: PollSnapshot[] = Array.from({ length: 1_000 }, (_, i) => {
    const progress = i % 3 === 0 ? 0 : Math.floor(rng() * 100);
    const now = 60_000 + Math.round(rng() * 900_000);
    return {
      now,
      submittedAt: 0,
      progress,
      progressChangedAt: progress === 0 ? 0 : now - Math.round(rng() * 30_000),
      startedAt: 20_000,
      startedProgress: 0,
      errorStreak: 0,
      ...(groups[i % groups.length] ?? groups[0]!),
    };
  });
  const time = (withPrior: boolean) => {
    let sink = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      const s = snapshots[i % snapshots.length] as PollSnapshot;
      sink += nextPollDelay(s, DEFAULT_BOUNDS, withPrior ? prior : undefined);
    }
    const ns = Number(process.hrtime.bigint() - start) / calls;
    if (sink < 0) throw new Error('unreachable');
    return ns;
  };
  // Interleaved rounds, so both see the same machine; the best round of each.
  let without = Infinity;
  let withPrior = Infinity;
  for (let r = 0; r < 3; r++) {
    without = Math.min(without, time(false));
    withPrior = Math.min(withPrior, time(true));
  }
  return {
    calls,
    withoutPriorNsPerCall: without,
    withPriorNsPerCall: withPrior,
    ratio: withPrior / without,
    updateUsPerJob,
    buildMs,
    priorJobs: finished.length,
  };
}

export async function runPollingBench(opts: {
  jobs: number;
  seed: number;
  shapes?: readonly ShapeId[];
  costCalls?: number;
}): Promise<PollingBenchResult> {
  const shapes = (opts.shapes ?? SHAPE_IDS).map((shape): ShapeResult => {
    // Seeded by the shape, so a shape's jobs are the same whichever others run.
    const jobs = generateJobs(shape, opts.jobs, deriveSeed(opts.seed, SHAPE_IDS.indexOf(shape)));
    const policies = [ourPolicy(), ...PEER_POLICIES, ourPolicy({ learn: false })].map((p) =>
      evaluatePolicy(jobs, p, opts.seed),
    );
    const [ours, ...rest] = policies;
    if (!ours) throw new Error('no policy evaluated');
    const peers = rest.filter((p) => p.id !== 'ours-no-history');
    const targets = checkShape(shape, ours, peers);
    const spec = SHAPES[shape];
    return {
      shape,
      label: spec.label,
      note: spec.note,
      reportsProgress: spec.reportsProgress,
      jobs: jobs.length,
      policies,
      targets,
      allTargetsMet: targets.every((t) => t.pass),
    };
  });
  const thirty = thirtySecondJob();
  return {
    jobsPerShape: opts.jobs,
    seed: opts.seed,
    boundsMs: { min: DEFAULT_BOUNDS.minMs, max: DEFAULT_BOUNDS.maxMs },
    shapes,
    allTargetsMet: shapes.every((s) => s.allTargetsMet) && thirty.distinctInProgressValues.length >= 2,
    thirtySecondJob: thirty,
    scheduleCost: measureScheduleCost(opts.seed, opts.costCalls),
  };
}

function table(header: string[], rows: string[][], alignLeft = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < alignLeft ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatPollingTable(result: PollingBenchResult): string {
  const out: string[] = [
    `Polling economy and completion lag — ${result.jobsPerShape} simulated jobs per shape, arriving over one day, seed ${result.seed}; our bounds ${result.boundsMs.min / 1000}–${result.boundsMs.max / 1000} s`,
    'Lag: from upstream first reporting completed/failed to the GET that sees it (lost jobs excluded; counted under "lost").',
    'Unreflected: per job, the longest time a change of ≥1 point (or the end) went unshown.',
  ];
  for (const s of result.shapes) {
    out.push(
      '',
      `### ${s.label} — ${s.note}`,
      table(
        ['policy', 'GET/job', 'lag p50', 'p95', 'max', 'lost', 'unreflected p95'],
        s.policies.map((p) => [
          p.label,
          p.requestsPerJob.mean.toFixed(1),
          sec(p.lagMs?.p50),
          sec(p.lagMs?.p95),
          sec(p.lagMs?.max),
          String(p.lost),
          sec(p.longestUnreflectedMs.p95, 0),
        ]),
      ),
      `Targets for ours: ${s.allTargetsMet ? 'all met' : 'NOT all met'}`,
      ...s.targets.map((t) => `  ${t.pass ? 'ok  ' : 'FAIL'}  ${t.name}: ${t.actual} (target ${t.target})`),
    );
  }
  const t = result.thirtySecondJob;
  const c = result.scheduleCost;
  out.push(
    '',
    `30 s job (no history): ${t.polls} polls, shown ${t.distinctInProgressValues.join('%, ')}% (target ≥ 2 distinct values)`,
    `Schedule cost: ${c.withPriorNsPerCall.toFixed(0)} ns per call with a prior of ${c.priorJobs} jobs, ${c.withoutPriorNsPerCall.toFixed(0)} ns without (×${c.ratio.toFixed(1)}); ` +
      `feeding a finished job ${c.updateUsPerJob.toFixed(0)} µs; building the prior at start ${c.buildMs.toFixed(1)} ms`,
    `All targets: ${result.allTargetsMet ? 'met' : 'NOT all met'}`,
  );
  return out.join('\n');
}
