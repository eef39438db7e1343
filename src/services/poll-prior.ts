/**
 * What this provider's finished jobs teach about when a job ends — the prior
 * the poll schedule leans on where progress says little (no progress at all,
 * coarse steps, a stall at 99 %, a long wait in the queue).
 *
 * Pure and deterministic: a prior is a value built from finished-job records
 * (src/db/job-history.ts reads them; the bot feeds each new one as a job
 * ends), so the bot, a restart and the benchmark make the same decisions
 * from the same history.
 *
 * The model. A job is followed through states: queued (never seen running),
 * then running at a progress value v (0..99). A finished job ended in one
 * state (its last one) some time after entering it (the state's anchor: the
 * submission, the first running reading, or the moment v was first seen).
 * For each state the history gives:
 *
 *   final chance  P(the job ends in this state | it got there), e.g. ~1 at 0 %
 *                 on a relay that reports no progress, ~0 at 40 % on one
 *                 that reports smooth progress, ~1 at 99 % on one that holds
 *                 99 % through moderation;
 *   tail          the distribution of the time from the anchor to the end,
 *                 absolute (ms) or relative to the linear extrapolation of
 *                 the job's own progress at the anchor — "the last quarter
 *                 takes about a third of the time the first three took" holds
 *                 across models and a provider that slows down, where an
 *                 absolute time does not. Each tail keeps whichever of the
 *                 two is the tighter for this provider;
 *   band          for jobs that got past a value: their actual run as a
 *                 multiple of the run extrapolated from their last progress
 *                 (~1 where progress tracks time, 1.1–1.7 where 99 % is held
 *                 through moderation) — where ends come relative to where
 *                 progress points.
 *
 * Each end is known only to lie between the poll before it and the poll that
 * saw it; the sample is spread over that interval (plus 10 % either side, a
 * smoothing that also keeps a handful of samples from looking certain).
 *
 * Recency: per group (model × seconds × size, then model × seconds, model,
 * and all jobs), the PRIOR_WINDOW most recent finished jobs, the i-th newest
 * weighted 0.5^(i / PRIOR_HALF_LIFE) — a provider that slows down over a day
 * is followed within tens of jobs, and a prior is the same whether it was
 * built at once or fed job by job. A group answers once its jobs weigh
 * MIN_GROUP_WEIGHT; until then the next coarser one does.
 *
 * Cost: feeding a finished job touches its four group levels (copies of
 * ≤ PRIOR_WINDOW references); a level's summary (histograms on 130
 * log-spaced bins) is worked out when first asked after a change, and each
 * question after that is a few binary searches.
 */

/** What identifies comparable jobs: the same model, duration and size take comparable times. */
export interface JobGroup {
  model: string;
  seconds: number;
  size: string;
}

/** One job that left polling, as the history records it (src/db/job-history.ts). */
export interface FinishedJob extends JobGroup {
  jobId: number;
  /** When upstream accepted the job. */
  submittedAt: number;
  /** The first reading of the job running, and its progress then (null: never seen running). */
  startedAt: number | null;
  startedProgress: number | null;
  /** The last progress seen before the end (0..99). */
  endProgress: number;
  /** When that value was first seen. */
  endProgressAt: number | null;
  /** The poll before the one that saw the end (null: unknown); the end lies after it. */
  prevPollAt: number | null;
  /** The poll that saw the end (for a timed-out job: when it was given up). */
  endedAt: number;
  outcome: 'completed' | 'failed' | 'timed_out';
}

/** The fields of a live job the prior reads (a subset of PollSnapshot). */
export interface LiveJob {
  submittedAt: number;
  progress: number;
  progressChangedAt: number | null;
  startedAt?: number | null;
  startedProgress?: number | null;
}

/** Finished jobs kept per group level. */
export const PRIOR_WINDOW = 200;
/** A job this many newer finished jobs (of its group) back weighs half as much. */
export const PRIOR_HALF_LIFE = 50;
/** A group level speaks once its finished jobs weigh this much; until then a coarser one does. */
export const MIN_GROUP_WEIGHT = 8;

/** The state of a job that ended while still queued (never seen running). */
export const QUEUED = -1;

/** Where a job is: its state, when it entered it, and the linear time left then (null: no rate). */
export interface JobState {
  state: number;
  anchor: number;
  /** At the anchor: time left if progress went on at its average rate since the first running reading. */
  linearRemainingMs: number | null;
}

/** The same rule for live jobs and finished ones, so their states and anchors compare. */
export function jobState(j: LiveJob): JobState {
  const progress = Math.max(0, Math.min(99, Math.round(j.progress)));
  const started = j.startedAt != null || progress > 0;
  if (!started) return { state: QUEUED, anchor: j.submittedAt, linearRemainingMs: null };
  const startAt = j.startedAt ?? j.submittedAt;
  const startProgress = j.startedAt == null ? 0 : (j.startedProgress ?? 0);
  const anchor = Math.max(startAt, j.progressChangedAt ?? startAt);
  const spent = anchor - startAt;
  const moved = progress - startProgress;
  return {
    state: progress,
    anchor,
    linearRemainingMs: moved > 0 && spent > 0 ? (spent * (100 - progress)) / moved : null,
  };
}

// ---------------------------------------------------------------------------
// Distributions on log-spaced bins (cheap to build, O(log bins) to query).

interface Layout {
  /** Upper edge of bin 0 (which starts at 0); bins above grow by `ratio`. */
  min: number;
  logMin: number;
  logRatio: number;
  count: number;
  /** edges[i] … edges[i + 1] is bin i. */
  edges: Float64Array;
}

function layout(min: number, ratio: number, count: number): Layout {
  const edges = new Float64Array(count + 1);
  for (let i = 1; i <= count; i++) edges[i] = min * ratio ** (i - 1);
  return { min, logMin: Math.log(min), logRatio: Math.log(ratio), count, edges };
}

/** Milliseconds: 0, then 1 s … ~60 h. */
const ABS = layout(1_000, 1.1, 130);
/** Multiples of the linear time left: 0, then 0.01 … ~2,000. */
const REL = layout(0.01, 1.1, 130);
/** Smoothing: each end is spread this share beyond its interval on either side. */
const SPREAD = 0.1;

const edge = (l: Layout, i: number) => l.edges[i] ?? Infinity;
function binOf(l: Layout, x: number): number {
  if (x < l.min) return 0;
  return Math.min(l.count - 1, 1 + Math.floor((Math.log(x) - l.logMin) / l.logRatio));
}

/** A weighted distribution of a non-negative duration. */
export class Tail {
  private readonly cdf: Float64Array;

  constructor(
    private readonly layout: Layout,
    /** Normalised mass per bin. */
    private readonly mass: Float64Array,
    /** Total weight of the samples behind it. */
    readonly weight: number,
    /** Which coordinate: ms after the anchor, or multiples of the linear time left. */
    readonly relative: boolean,
  ) {
    this.cdf = new Float64Array(mass.length + 1);
    for (let i = 0; i < mass.length; i++) this.cdf[i + 1] = (this.cdf[i] ?? 0) + (mass[i] ?? 0);
  }

  /** P(end ≤ x). */
  cdfAt(x: number): number {
    if (x <= 0) return 0;
    const i = binOf(this.layout, x);
    const lo = edge(this.layout, i);
    const frac = Math.min(1, (x - lo) / (edge(this.layout, i + 1) - lo));
    return Math.min(1, (this.cdf[i] ?? 0) + (this.mass[i] ?? 0) * frac);
  }

  /** The smallest x with P(end ≤ x) ≥ p; Infinity for p ≥ 1. */
  quantile(p: number): number {
    if (p >= 1) return Infinity;
    if (p <= 0) return 0;
    let lo = 0;
    let hi = this.mass.length; // cdf[lo] ≤ p < cdf[hi]
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((this.cdf[mid] ?? 0) <= p) lo = mid;
      else hi = mid;
    }
    const m = this.mass[lo] ?? 0;
    const a = edge(this.layout, lo);
    const b = edge(this.layout, lo + 1);
    return m > 0 ? a + ((p - (this.cdf[lo] ?? 0)) / m) * (b - a) : b;
  }
}

class TailBuilder {
  private readonly mass: Float64Array;
  private weight = 0;

  constructor(private readonly layout: Layout) {
    this.mass = new Float64Array(layout.count);
  }

  /** Adds weight `w`, spread evenly over [lo, hi] widened by `spread` (a share of each end). */
  add(lo: number, hi: number, w: number, spread = SPREAD): void {
    const a = Math.max(0, lo / (1 + spread));
    const b = Math.max(a, hi * (1 + spread));
    this.weight += w;
    const first = binOf(this.layout, a);
    const last = binOf(this.layout, b);
    if (first === last || b - a <= 0) {
      this.mass[first] = (this.mass[first] ?? 0) + w;
      return;
    }
    for (let i = first; i <= last; i++) {
      const overlap =
        Math.min(b, i === this.layout.count - 1 ? b : edge(this.layout, i + 1)) - Math.max(a, edge(this.layout, i));
      if (overlap > 0) this.mass[i] = (this.mass[i] ?? 0) + (w * overlap) / (b - a);
    }
  }

  /** Adds everything `other` holds (same layout). */
  addAll(other: TailBuilder): void {
    this.weight += other.weight;
    for (let i = 0; i < this.mass.length; i++) this.mass[i] = (this.mass[i] ?? 0) + (other.mass[i] ?? 0);
  }

  build(relative: boolean): Tail | undefined {
    if (this.weight <= 0) return undefined;
    const norm = this.mass.map((m) => m / this.weight);
    return new Tail(this.layout, norm, this.weight, relative);
  }
}

// ---------------------------------------------------------------------------
// Samples and per-level summaries.

/** Tails are shared by neighbouring values: the last few points are told apart, the early ones pooled. */
const TAIL_BUCKETS = [1, 25, 50, 75, 90, 95, 98, 99] as const;
/** Index in the summary's tail list: 0 queued, 1 running at 0 %, then TAIL_BUCKETS. */
function tailIndex(state: number): number {
  if (state === QUEUED) return 0;
  if (state <= 0) return 1;
  let b = 0;
  for (let i = 0; i < TAIL_BUCKETS.length; i++) if ((TAIL_BUCKETS[i] ?? 100) <= state) b = i;
  return 2 + b;
}
const TAIL_COUNT = 2 + TAIL_BUCKETS.length;

interface Sample {
  jobId: number;
  endedAt: number;
  state: number;
  /** A timed-out job: it reached its state and did not end there within the wait. */
  censored: boolean;
  /** The end, in ms after the anchor: after `lo`, at or before `hi`. */
  lo: number;
  hi: number;
  /** The linear time left at the anchor (null: no rate). */
  linear: number | null;
  /** From the first running reading to the anchor. */
  sinceStart: number;
}

function toSample(f: FinishedJob): Sample {
  const s = jobState({
    submittedAt: f.submittedAt,
    progress: f.endProgress,
    progressChangedAt: f.endProgressAt,
    startedAt: f.startedAt,
    startedProgress: f.startedProgress,
  });
  const hi = Math.max(0, f.endedAt - s.anchor);
  const lo = Math.min(hi, Math.max(0, (f.prevPollAt ?? f.endedAt) - s.anchor));
  return {
    jobId: f.jobId,
    endedAt: f.endedAt,
    state: s.state,
    censored: f.outcome === 'timed_out',
    lo,
    hi,
    linear: s.linearRemainingMs,
    sinceStart: s.anchor - (f.startedAt ?? f.submittedAt),
  };
}

const newerFirst = (a: Sample, b: Sample) => b.endedAt - a.endedAt || b.jobId - a.jobId;

interface Summary {
  weight: number;
  /** Per state + 1: weight of jobs that ended in it. */
  final: Float64Array;
  /** Per state + 1: weight of jobs that got at least that far (ended or timed out there or later). */
  reached: Float64Array;
  tails: { abs: Tail | undefined; rel: Tail | undefined; preferRel: boolean }[];
  /** Per tail bucket of v: the actual run over the linearly extrapolated one, for jobs that got past v. */
  bands: (Tail | undefined)[];
}

/** Spread of a tail, scale-free: how many times longer its 90th percentile is than its 10th. */
function spread(t: Tail): number {
  const lo = Math.max(t.quantile(0.1), 1e-9);
  return t.quantile(0.9) / lo;
}

function summarize(newestFirst: readonly Sample[]): Summary {
  const decay = 0.5 ** (1 / PRIOR_HALF_LIFE);
  const final = new Float64Array(101);
  const reachedAt = new Float64Array(101);
  const abs = Array.from({ length: TAIL_COUNT }, () => new TailBuilder(ABS));
  const rel = Array.from({ length: TAIL_COUNT }, () => new TailBuilder(REL));
  /** Per bucket, the jobs that ended in it; a band is the sum over its bucket and every later one. */
  const ownBands = Array.from({ length: TAIL_COUNT }, () => new TailBuilder(REL));
  let weight = 0;
  let w = 1;
  for (const s of newestFirst) {
    weight += w;
    reachedAt[s.state + 1] = (reachedAt[s.state + 1] ?? 0) + w;
    if (!s.censored) {
      final[s.state + 1] = (final[s.state + 1] ?? 0) + w;
      const i = tailIndex(s.state);
      abs[i]?.add(s.lo, s.hi, w);
      if (s.linear !== null && s.linear > 0) {
        rel[i]?.add(s.lo / s.linear, s.hi / s.linear, w);
        // Smoothed like the tail (the time after the anchor), not like the whole run.
        const span = s.sinceStart + s.linear;
        const lo = (s.sinceStart + s.lo / (1 + SPREAD)) / span;
        const hi = (s.sinceStart + s.hi * (1 + SPREAD)) / span;
        ownBands[i]?.add(lo, hi, w, 0);
      }
    }
    w *= decay;
  }
  // Monotone progress: a job that ended at v got through every state before v.
  const reached = new Float64Array(101);
  let acc = 0;
  for (let i = 100; i >= 0; i--) {
    acc += reachedAt[i] ?? 0;
    reached[i] = acc;
  }
  const tails = abs.map((a, i) => {
    const tA = a.build(false);
    const tR = rel[i]?.build(true);
    // The relative tail only where most ends have a rate to scale by, and where it is the tighter one.
    const preferRel = !!tA && !!tR && tR.weight >= 0.8 * tA.weight && spread(tR) < spread(tA);
    return { abs: tA, rel: tR, preferRel };
  });
  const bands: (Tail | undefined)[] = new Array<Tail | undefined>(TAIL_COUNT).fill(undefined);
  const passed = new TailBuilder(REL);
  for (let b = TAIL_COUNT - 1; b >= 2; b--) {
    const own = ownBands[b];
    if (own) passed.addAll(own);
    bands[b] = passed.build(true);
  }
  return { weight, final, reached, tails, bands };
}

/** One group level's recent jobs; what they say is worked out when first asked, then kept. */
class Ring {
  /** A cache, not state: two rings of the same samples are equal whether or not either was asked. */
  #view: PriorView | undefined;

  constructor(
    /** Newest first, at most PRIOR_WINDOW. */
    readonly samples: readonly Sample[],
    readonly level: string,
  ) {}

  /** Σ 0.5^(i / half-life) over the samples. */
  get weight(): number {
    const decay = 0.5 ** (1 / PRIOR_HALF_LIFE);
    return (1 - decay ** this.samples.length) / (1 - decay);
  }

  view(): PriorView {
    if (this.#view) return this.#view;
    const { final, reached, tails, bands, weight } = summarize(this.samples);
    this.#view = {
      level: this.level,
      weight,
      // One imagined job that went on past this state keeps a thin history from looking certain.
      finalChance: (state) => (final[state + 1] ?? 0) / ((reached[state + 1] ?? 0) + 1),
      tail: (state, hasRate) => {
        const t = tails[tailIndex(state)];
        return t && (t.preferRel && hasRate ? t.rel : t.abs);
      },
      band: (state) => {
        const b = state > 0 ? bands[tailIndex(state)] : undefined;
        return b && b.weight >= MIN_GROUP_WEIGHT / 2 ? b : undefined;
      },
    };
    return this.#view;
  }
}

/** The learned prior: a value; build it with buildPrior, extend it with withFinishedJob. */
export interface PollPrior {
  readonly rings: ReadonlyMap<string, Ring>;
}

export const EMPTY_PRIOR: PollPrior = { rings: new Map() };

/** Group keys, finest first. */
export function groupKeys(g: JobGroup | undefined): string[] {
  if (!g) return ['*'];
  return [`${g.model}|${g.seconds}|${g.size}`, `${g.model}|${g.seconds}`, g.model, '*'];
}

/** The prior of these finished jobs (any order): what the bot builds at start. */
export function buildPrior(jobs: Iterable<FinishedJob>): PollPrior {
  const byKey = new Map<string, Sample[]>();
  const seen = new Set<number>();
  for (const f of jobs) {
    if (seen.has(f.jobId)) continue;
    seen.add(f.jobId);
    const s = toSample(f);
    for (const k of groupKeys(f)) {
      const list = byKey.get(k);
      if (list) list.push(s);
      else byKey.set(k, [s]);
    }
  }
  const rings = new Map<string, Ring>();
  for (const [k, list] of byKey) {
    rings.set(k, new Ring(list.sort(newerFirst).slice(0, PRIOR_WINDOW), k));
  }
  return { rings };
}

/**
 * The prior with one more finished job: what the bot does as a job ends.
 * Only the job's own group levels are rebuilt (≤ 4 × PRIOR_WINDOW samples);
 * the result equals buildPrior over the same jobs. A job already in it
 * changes nothing.
 */
export function withFinishedJob(prior: PollPrior, f: FinishedJob): PollPrior {
  const s = toSample(f);
  const rings = new Map(prior.rings);
  let changed = false;
  for (const k of groupKeys(f)) {
    const old = prior.rings.get(k)?.samples ?? [];
    if (old.some((o) => o.jobId === s.jobId)) continue;
    // Usually the newest: insert in order all the same, so the fold order never matters.
    let at = 0;
    while (at < old.length && newerFirst(old[at] as Sample, s) < 0) at++;
    if (at >= PRIOR_WINDOW) continue;
    rings.set(k, new Ring([...old.slice(0, at), s, ...old.slice(at)].slice(0, PRIOR_WINDOW), k));
    changed = true;
  }
  return changed ? { rings } : prior;
}

/** What the prior says for one group: the finest level with enough history. */
export interface PriorView {
  /** The group level answering (e.g. "sora-2|10|1280x720", "sora-2", "*"). */
  level: string;
  /** Weight of the finished jobs behind it. */
  weight: number;
  /** P(the job ends in this state | it got there). */
  finalChance(state: number): number;
  /**
   * How long after entering this state the jobs that ended in it ended;
   * undefined if none did. `hasRate`: the live job has a linear time left to
   * scale a relative tail by (otherwise the absolute one answers).
   */
  tail(state: number, hasRate: boolean): Tail | undefined;
  /**
   * For a job running at `state` (> 0): the actual run of jobs that got
   * past it, as multiples of their run extrapolated linearly from their last
   * progress — where ends come relative to where progress points (~1 on a
   * smooth relay, 1.1–1.7 where 99 % is held). Undefined without such jobs.
   */
  band(state: number): Tail | undefined;
}

export function viewFor(prior: PollPrior, group?: JobGroup): PriorView | undefined {
  for (const level of groupKeys(group)) {
    const ring = prior.rings.get(level);
    if (ring && ring.weight >= MIN_GROUP_WEIGHT) return ring.view();
  }
  return undefined;
}

/** Where a live job stands on its state's tail: the coordinate and its scale in ms. */
export function tailPosition(tail: Tail, s: JobState, now: number): { x: number; msPerUnit: number } | undefined {
  const elapsed = Math.max(0, now - s.anchor);
  if (!tail.relative) return { x: elapsed, msPerUnit: 1 };
  if (s.linearRemainingMs === null || s.linearRemainingMs <= 0) return undefined;
  return { x: elapsed / s.linearRemainingMs, msPerUnit: s.linearRemainingMs };
}
