/**
 * Benchmark part 2 — polling economy and completion lag.
 *
 * Replays the same simulated jobs (seeded, see sim/jobs.ts) against our
 * polling policy and the peers' policies on a simulated clock: nothing
 * waits, and the same seed always gives the same numbers.
 *
 * Per policy it reports GET requests per job, completion-detection lag (from
 * the moment upstream first reports completed or failed to the GET that sees
 * it), jobs lost to giving up, and how stale the displayed progress gets
 * (sampled every simulated second up to detection; for a lost job up to its
 * true end).
 */
import {
  CURVE_KINDS,
  type CurveKind,
  type SimJob,
  allocateMix,
  buildJob,
  generateJobs,
  linearCurve,
  observe,
  trueProgress,
  JOB_SHAPE,
} from './sim/jobs.js';
import { DEFAULT_BOUNDS, PEER_POLICIES, type PollingPolicy, ourPolicy } from './sim/policies.js';
import { deriveSeed, mulberry32 } from './sim/prng.js';

export interface Distribution {
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

export interface CurveStats {
  jobs: number;
  lost: number;
  requestsMean: number;
  lagP50Ms: number | null;
  lagP95Ms: number | null;
  lagMaxMs: number | null;
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
  /** |true − displayed| progress, in points, over every simulated second. */
  staleGapPoints: { mean: number; p95: number };
  /** Per job: the longest stretch in which the display did not reflect a change of ≥1 point (includes completion lag). */
  longestUnreflectedMs: { p50: number; p95: number; max: number };
  byCurve: Record<CurveKind, CurveStats>;
}

export interface TargetCheck {
  name: string;
  target: string;
  actual: string;
  pass: boolean;
}

export interface PollingBenchResult {
  jobs: number;
  seed: number;
  mix: Record<CurveKind, number>;
  shape: typeof JOB_SHAPE;
  boundsMs: { min: number; max: number };
  policies: PolicyStats[];
  /** Our policy against the issue's targets. */
  targets: TargetCheck[];
  allTargetsMet: boolean;
  /** A 30 s job (no queue, linear progress) under our policy with the default bounds. */
  thirtySecondJob: { polls: number; distinctInProgressValues: number[]; detectedAfterMs: number | null };
}

interface JobOutcome {
  requests: number;
  lagMs: number | null;
  longestUnreflectedMs: number;
  /** Histogram of the gap in points (index = gap), one count per sampled second. */
  gapHistogram: Float64Array;
  inProgressSeen: number[];
}

/** A safety stop for a policy that would poll forever. */
const HARD_STOP_MS = 24 * 3_600_000;

/** Replays one policy on one job. */
export function replay(job: SimJob, policy: PollingPolicy, jitterSeed: number): JobOutcome {
  const run = policy.start(mulberry32(jitterSeed));
  const pollTimes: number[] = [];
  const shown: number[] = [];
  const inProgressSeen: number[] = [];
  let requests = 0;
  let detectedAt: number | null = null;
  let display = 0;
  let delay = run.afterSubmit({ status: 'queued', progress: 0 });
  let at = 0;
  while (delay !== null && at + delay < HARD_STOP_MS) {
    at += Math.max(0, delay);
    requests += 1;
    const seen = observe(job, at);
    if (seen.status === 'completed' || seen.status === 'failed') {
      detectedAt = at;
      break;
    }
    display = Math.max(display, Math.min(99, seen.progress));
    if (seen.status === 'in_progress' && seen.progress > 0) inProgressSeen.push(seen.progress);
    pollTimes.push(at);
    shown.push(display);
    delay = run.afterPoll(at, seen, requests);
  }

  // Staleness, sampled every simulated second up to the GET that sees the end (or the true end, if lost).
  const gapHistogram = new Float64Array(101);
  const until = detectedAt ?? job.endMs;
  let shownNow = 0;
  let next = 0;
  let diffSince: number | null = null;
  let longest = 0;
  for (let t = 1000; t < until; t += 1000) {
    while (next < pollTimes.length && (pollTimes[next] ?? Infinity) <= t) {
      if (diffSince !== null) longest = Math.max(longest, (pollTimes[next] ?? t) - diffSince);
      diffSince = null;
      shownNow = shown[next] ?? shownNow;
      next += 1;
    }
    const gap = Math.abs(trueProgress(job, t) - shownNow);
    gapHistogram[gap] = (gapHistogram[gap] ?? 0) + 1;
    if (gap >= 1) {
      diffSince ??= t;
      longest = Math.max(longest, t - diffSince);
    }
  }
  if (diffSince !== null) longest = Math.max(longest, until - diffSince);
  return {
    requests,
    lagMs: detectedAt === null ? null : detectedAt - job.endMs,
    longestUnreflectedMs: longest,
    gapHistogram,
    inProgressSeen,
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

function histogramStats(h: Float64Array): { mean: number; p95: number } {
  let n = 0;
  let sum = 0;
  h.forEach((c, gap) => {
    n += c;
    sum += c * gap;
  });
  let acc = 0;
  let p95 = 0;
  for (let gap = 0; gap < h.length; gap++) {
    acc += h[gap] ?? 0;
    if (acc >= 0.95 * n) {
      p95 = gap;
      break;
    }
  }
  return { mean: n === 0 ? 0 : sum / n, p95 };
}

export function evaluatePolicy(jobs: readonly SimJob[], policy: PollingPolicy, seed: number): PolicyStats {
  const outcomes = jobs.map((job) => replay(job, policy, deriveSeed(seed, 1000 + job.id)));
  const gaps = new Float64Array(101);
  for (const o of outcomes) o.gapHistogram.forEach((c, i) => (gaps[i] = (gaps[i] ?? 0) + c));
  const lags = outcomes.flatMap((o) => (o.lagMs === null ? [] : [o.lagMs]));
  const longest = distribution(outcomes.map((o) => o.longestUnreflectedMs));
  const byCurve = Object.fromEntries(
    CURVE_KINDS.map((kind) => {
      const mine = outcomes.filter((_, i) => jobs[i]?.kind === kind);
      const kindLags = mine.flatMap((o) => (o.lagMs === null ? [] : [o.lagMs]));
      const lagDist = kindLags.length > 0 ? distribution(kindLags) : null;
      const stats: CurveStats = {
        jobs: mine.length,
        lost: mine.length - kindLags.length,
        requestsMean: mine.reduce((a, o) => a + o.requests, 0) / Math.max(1, mine.length),
        lagP50Ms: lagDist?.p50 ?? null,
        lagP95Ms: lagDist?.p95 ?? null,
        lagMaxMs: lagDist?.max ?? null,
      };
      return [kind, stats];
    }),
  ) as Record<CurveKind, CurveStats>;
  return {
    id: policy.id,
    label: policy.label,
    note: policy.note,
    jobs: jobs.length,
    detected: lags.length,
    lost: jobs.length - lags.length,
    requestsPerJob: distribution(outcomes.map((o) => o.requests)),
    lagMs: lags.length > 0 ? distribution(lags) : null,
    staleGapPoints: histogramStats(gaps),
    longestUnreflectedMs: { p50: longest.p50, p95: longest.p95, max: longest.max },
    byCurve,
  };
}

/** The issue's 30-second job: submitted, ~30 s of smooth progress, no queue. */
export function thirtySecondJob(policy: PollingPolicy = ourPolicy()): PollingBenchResult['thirtySecondJob'] {
  const job = buildJob(0, 'smooth', 0, 30_000, linearCurve, 'completed');
  const o = replay(job, policy, 1);
  return {
    polls: o.requests,
    distinctInProgressValues: [...new Set(o.inProgressSeen)],
    detectedAfterMs: o.lagMs === null ? null : job.endMs + o.lagMs,
  };
}

const sec = (ms: number | null | undefined, digits = 1) =>
  ms === null || ms === undefined || Number.isNaN(ms) ? '—' : `${(ms / 1000).toFixed(digits)} s`;

function checkTargets(
  ours: PolicyStats,
  peers: readonly PolicyStats[],
  thirty: PollingBenchResult['thirtySecondJob'],
): TargetCheck[] {
  const sparsest = peers.find((p) => p.id === 'discord-10s');
  const checks: TargetCheck[] = [];
  if (sparsest) {
    checks.push({
      name: 'GET/job below the sparsest peer',
      target: `< ${sparsest.requestsPerJob.mean.toFixed(1)} (${sparsest.label})`,
      actual: ours.requestsPerJob.mean.toFixed(1),
      pass: ours.requestsPerJob.mean < sparsest.requestsPerJob.mean,
    });
  }
  checks.push(
    {
      name: 'lag p50',
      target: '≤ 2 s',
      actual: sec(ours.lagMs?.p50),
      pass: ours.lagMs !== null && ours.lagMs.p50 <= 2_000,
    },
    {
      name: 'lag p95',
      target: '≤ 6 s',
      actual: sec(ours.lagMs?.p95),
      pass: ours.lagMs !== null && ours.lagMs.p95 <= 6_000,
    },
    { name: 'jobs lost', target: '0', actual: String(ours.lost), pass: ours.lost === 0 },
    {
      name: '30 s job shows two percentages',
      target: '≥ 2 distinct in-progress values',
      actual: `${thirty.distinctInProgressValues.length} (${thirty.distinctInProgressValues.join('%, ')}%)`,
      pass: thirty.distinctInProgressValues.length >= 2,
    },
  );
  return checks;
}

export async function runPollingBench(opts: { jobs: number; seed: number }): Promise<PollingBenchResult> {
  const jobs = generateJobs(opts.jobs, opts.seed);
  const ours = ourPolicy();
  const policies = [ours, ...PEER_POLICIES].map((p) => evaluatePolicy(jobs, p, opts.seed));
  const [oursStats, ...peers] = policies;
  if (!oursStats) throw new Error('no policy evaluated');
  const thirty = thirtySecondJob(ours);
  const targets = checkTargets(oursStats, peers, thirty);
  return {
    jobs: opts.jobs,
    seed: opts.seed,
    mix: allocateMix(opts.jobs),
    shape: JOB_SHAPE,
    boundsMs: { min: DEFAULT_BOUNDS.minMs, max: DEFAULT_BOUNDS.maxMs },
    policies,
    targets,
    allTargetsMet: targets.every((t) => t.pass),
    thirtySecondJob: thirty,
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
  const mix = CURVE_KINDS.map((k) => `${result.mix[k]} ${k}`).join(', ');
  const s = result.shape;
  const out: string[] = [
    `Polling economy and completion lag — ${result.jobs} simulated jobs, seed ${result.seed} (${mix})`,
    `queue ${s.queueMs[0] / 1000}–${s.queueMs[1] / 1000} s, run ${s.runMs[0] / 60_000}–${s.runMs[1] / 60_000} min; our bounds ${result.boundsMs.min / 1000}–${result.boundsMs.max / 1000} s`,
    '',
    table(
      ['policy', 'GET/job', 'p95', 'lag p50', 'p95', 'max', 'lost', 'gap mean', 'gap p95', 'unreflected p95', 'max'],
      result.policies.map((p) => [
        p.label,
        p.requestsPerJob.mean.toFixed(1),
        String(p.requestsPerJob.p95),
        sec(p.lagMs?.p50),
        sec(p.lagMs?.p95),
        sec(p.lagMs?.max),
        String(p.lost),
        `${p.staleGapPoints.mean.toFixed(2)} pt`,
        `${p.staleGapPoints.p95} pt`,
        sec(p.longestUnreflectedMs.p95, 0),
        sec(p.longestUnreflectedMs.max, 0),
      ]),
    ),
    '',
    'By curve — GET/job mean · lag p50 / p95 (lost)',
    table(
      ['policy', ...CURVE_KINDS],
      result.policies.map((p) => [
        p.label,
        ...CURVE_KINDS.map((k) => {
          const c = p.byCurve[k];
          return `${c.requestsMean.toFixed(1)} · ${sec(c.lagP50Ms)} / ${sec(c.lagP95Ms)}${c.lost > 0 ? ` (${c.lost})` : ''}`;
        }),
      ]),
    ),
    '',
    'Lag: from upstream first reporting completed/failed to the GET that sees it (lost jobs excluded; counted under "lost").',
    'Gap: |true − displayed| progress every simulated second until detection; unreflected: per job, the longest time a change of ≥1 point went unshown.',
    '',
    `Targets for ours: ${result.allTargetsMet ? 'all met' : 'NOT all met'}`,
    ...result.targets.map((t) => `  ${t.pass ? 'ok  ' : 'FAIL'}  ${t.name}: ${t.actual} (target ${t.target})`),
  ];
  return out.join('\n');
}
