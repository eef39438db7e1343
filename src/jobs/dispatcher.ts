import { setImmediate } from 'node:timers/promises';
import type { Clock, TimerHandle, Timers } from '../clock.js';
import type { Job, JobsRepository, LineRead } from '../db/jobs-repository.js';
import type { StateRepository } from '../db/state-repository.js';
import type { Logger } from '../logger.js';
import type { OptionalField } from '../services/capabilities.js';
import { describeFailure, type UpstreamFailure, type VideoApi } from '../services/video-api.js';
import { EXACT_PLACES } from '../ui/render.js';
import { inLineOrder } from './fair-line.js';
import type { JobEvents } from './job-events.js';
import { toCreateRequest } from './job-request.js';
import type { AbandonCode } from './lifecycle.js';
import type { Presenter } from './presenter.js';

export interface DispatcherOptions {
  /** Most jobs running upstream at once for this key (TUZI_MAX_RUNNING_JOBS). */
  maxRunning: number;
  /** How often the places shown in line are brought up to date (the reply edit spacing). */
  refreshMs: number;
  /** First wait before a paused line probes the provider again; it doubles up to `probeMaxMs`. */
  probeMinMs: number;
  probeMaxMs: number;
  /** Back-off after a 429 that named no Retry-After; it doubles per 429 in a row, up to `probeMaxMs`. */
  backoffMs: number;
  /** Whether a model takes an optional field (the catalogue); fields it does not take are not sent. Default: all. */
  accepts?: (model: string, field: OptionalField) => boolean;
}

/** Why the line stopped sending: the provider refuses every job for now, for a reason no wait within a job fixes. */
export interface PauseState {
  reason: 'quota' | 'auth';
  /** The provider's own words (the key is never in them: the client scrubs it). */
  message: string;
  since: number;
}

export interface DispatcherHooks {
  /** The line paused: told once per pause (moderators). */
  paused(state: PauseState): void;
  resumed(state: PauseState): void;
  /** The provider refused a model as not found (it dropped or never served it): moderators should change the catalogue. */
  modelUnavailable?(model: string, message: string): void;
}

const PAUSE_KEY = 'dispatch_pause';
/** Waiting jobs looked at between two turns of the event loop while the places are refreshed (~2 ms here). */
const REFRESH_SLICE = 50;
/** Jobs of the line read, or put in order, between two turns of the event loop (0.5–0.9 ms a page here, 3,200 waiting). */
const LINE_SLICE = 500;
/**
 * Replies far back in line (beyond the places shown exactly) looked at per
 * refresh, in turns: a line of thousands is brought up to date a slice at a
 * time, the front at every refresh, instead of hundreds of edits a second
 * (bench part 1c). With 25 per 5 s refresh, 150 far replies are each looked at
 * every 30 s, as often as the presenter edits them anyway (FAR_PLACE_SPACING).
 */
export const FAR_PER_REFRESH = 25;

/** What a refused create means for the line. */
export type Refusal =
  /** Nothing was made and the same request may go later: the provider is full or rate-limits us. */
  | { kind: 'full'; retryAfterMs: number | undefined }
  /** Nothing was made, and nothing will be until an operator acts: no balance, or the key is refused. */
  | { kind: 'pause'; reason: PauseState['reason'] }
  /** The job itself ends: refused for good, or it may exist upstream (never resent). */
  | { kind: 'abandon'; code: AbandonCode };

const QUOTA_WORDS = /quota|balance|credit|insufficient|余额|额度/i;

/**
 * How a failed create is read. A 401/402/403, or a 429 whose code or message
 * speaks of quota or balance (OpenAI: 429 `insufficient_quota`), pauses the
 * line; any other 429 means full or rate-limited. Both mean nothing was made,
 * so the job goes back in line — the one case where the same POST is sent
 * again. Every other failure keeps the rule that a POST which may have
 * reached the server is never resent.
 */
export function readRefusal(failure: UpstreamFailure): Refusal {
  if (failure.closed) return { kind: 'abandon', code: 'interrupted' };
  // Before the status rules: new-api answers a model it has no channel for with a 503, OpenAI with a 404.
  if (failure.modelUnavailable) return { kind: 'abandon', code: 'model_unavailable' };
  const { status } = failure;
  if (status === 401 || status === 403) return { kind: 'pause', reason: 'auth' };
  if (status === 402) return { kind: 'pause', reason: 'quota' };
  if (status === 429)
    return QUOTA_WORDS.test(`${failure.code ?? ''} ${failure.message}`)
      ? { kind: 'pause', reason: 'quota' }
      : { kind: 'full', retryAfterMs: failure.retryAfterMs };
  if (status !== undefined && status >= 400 && status < 500) return { kind: 'abandon', code: 'rejected' };
  if (status === undefined && !failure.mayHaveReachedServer) return { kind: 'abandon', code: 'unavailable' };
  return { kind: 'abandon', code: 'unknown' };
}

/**
 * Sends waiting jobs upstream, one POST each, in the fair line's order
 * (fair-line.ts), never more running at once than the key allows. Each claim
 * (count the slots, pick the head, move it to `submitting`) is one immediate
 * transaction, so two passes — or two processes on one database — can never
 * overfill the provider. A 429 puts the job back in its place and holds the
 * line for Retry-After; an empty balance or a refused key pauses it (stored,
 * so a restart keeps it) until a probe — the next job, sent when the wait is
 * over, since a refusal makes nothing — goes through. While jobs wait, their
 * replies show their place, refreshed at the edit spacing.
 */
export class Dispatcher {
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;
  private wakePending = false;
  private passing = false;
  private again = false;
  private blockedUntil = 0;
  private fullStreak = 0;
  private pause: PauseState | undefined;
  private probeAt = 0;
  private probeWaitMs: number;
  private lastRefresh = -Infinity;
  /** Where the last refresh's turn among the far places ended, and whether the line was paused then. */
  private farTurn = 0;
  private refreshedPaused = false;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly events: JobEvents,
    private readonly videos: VideoApi,
    private readonly presenter: Presenter,
    private readonly state: StateRepository,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
    private readonly hooks: DispatcherHooks,
  ) {
    this.probeWaitMs = options.probeMinMs;
  }

  /** Starts sending; a pause stored by an earlier process is kept, and probed at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const stored = this.state.get(PAUSE_KEY);
    if (stored) {
      this.pause = JSON.parse(stored) as PauseState;
      this.probeAt = this.clock.now();
    }
    this.wake();
  }

  /**
   * Asks for a pass now (a job became ready, a slot was freed, the line
   * changed): right after the current work, not on a timer, so a job with
   * capacity free is sent at once.
   */
  wake(): void {
    if (!this.running || this.wakePending) return;
    this.wakePending = true;
    queueMicrotask(() => {
      this.wakePending = false;
      void this.pass();
    });
  }

  /** The line's pause, when it is paused (moderators see it in /sora-config show). */
  get paused(): PauseState | undefined {
    return this.pause;
  }

  /** True while a pass or a POST runs, or a pass is about to (tests and shutdown wait for this). */
  get busy(): boolean {
    return this.passing || this.wakePending || this.inFlight.size > 0;
  }

  /** Stops sending and waits (up to `timeoutMs`, real time: a shutdown deadline) for POSTs under way. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    const all = Promise.allSettled([...this.inFlight]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  private arm(delayMs: number): void {
    const at = this.clock.now() + Math.max(0, delayMs);
    if (this.timer && this.timerAt <= at) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.pass();
    }, delayMs);
  }

  private async pass(): Promise<void> {
    if (!this.running) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    this.passing = true;
    try {
      do {
        this.again = false;
        this.followStoredPause();
        this.sendWhatFits();
        await this.refresh();
      } while (this.again && this.running);
    } catch (err) {
      this.log.error({ err }, 'dispatch pass failed');
    } finally {
      this.passing = false;
    }
    this.armNext();
  }

  /** Claims and sends jobs while capacity allows (one probe at a time while paused). */
  private sendWhatFits(): void {
    for (;;) {
      const now = this.clock.now();
      if (now < this.blockedUntil) return;
      if (this.pause && (now < this.probeAt || this.inFlight.size > 0)) return;
      const job = this.claim();
      if (!job) return;
      const run = this.submit(job).finally(() => {
        this.inFlight.delete(run);
        this.wake();
      });
      this.inFlight.add(run);
      if (this.pause) return;
    }
  }

  /**
   * With several shards on one database, the cap stays the key's and the
   * order stays fair across every server: the transaction counts the slots
   * of every shard's jobs (`holders` is not filtered by shard) and orders
   * every shard's waiting jobs, and of the `free` jobs at the head of that
   * one line this process sends the first it owns (`mine`). Jobs of other
   * shards among them are theirs to send — they hear that the line moved
   * (app.ts relays it over the manager's IPC) — so whichever shard claims
   * first, the jobs that go are the ones a single process would have sent.
   */
  private claim(): Job | undefined {
    // Full is the common case while a line builds: known from one count, without a write
    // transaction or reading the line (slots only free up after it; the freeing wakes a pass).
    if (this.jobs.slotsInUse() >= this.options.maxRunning) return undefined;
    return this.jobs.exclusive(() => {
      const { waiting, holders, mine } = this.jobs.line();
      const used = holders.reduce((n, h) => n + h.slots, 0);
      const free = this.options.maxRunning - used;
      if (free <= 0) return undefined;
      // Of the `free` jobs at the head, the first this process owns; the rest of the line is not ordered.
      let next: number | undefined;
      let i = 0;
      for (const id of inLineOrder(waiting, holders)) {
        if (i++ === free) break;
        if (mine.has(id)) {
          next = id;
          break;
        }
      }
      const job = next === undefined ? undefined : this.jobs.get(next);
      return job && this.events.apply(job, { type: 'claimSubmission' })?.job;
    });
  }

  /** The one POST upstream for this job. A refusal that made nothing puts it back in line; nothing else resends it. */
  private async submit(job: Job): Promise<void> {
    let task;
    try {
      const accepts = this.options.accepts;
      task = await this.videos.createVideo(
        toCreateRequest(job, accepts ? (field) => accepts(job.model, field) : undefined),
      );
    } catch (err) {
      const failure = describeFailure(err);
      const refusal = readRefusal(failure);
      if (refusal.kind === 'abandon') {
        this.log.warn({ jobId: job.id, err, code: refusal.code }, 'submission failed');
        if (refusal.code === 'model_unavailable') this.hooks.modelUnavailable?.(job.model, failure.message);
        await this.events.emit(job, { type: 'abandoned', code: refusal.code, message: failure.message });
        return;
      }
      // The line holds (or pauses) before the job is back in it: the pass its return wakes must not send it again.
      const newlyPaused =
        refusal.kind === 'full'
          ? (this.holdOff(refusal.retryAfterMs), false)
          : this.pauseLine(refusal.reason, failure.message);
      await this.events.emit(job, { type: 'requeued', reason: failure.message });
      if (newlyPaused) this.hooks.paused(this.pause!);
      return;
    }
    this.fullStreak = 0;
    if (this.pause) this.resume();
    await this.events.emit(job, { type: 'accepted', task });
  }

  private holdOff(retryAfterMs: number | undefined): void {
    this.fullStreak++;
    const wait = retryAfterMs ?? Math.min(this.options.probeMaxMs, this.options.backoffMs * 2 ** (this.fullStreak - 1));
    this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + wait);
    this.log.info({ retryInMs: wait, streak: this.fullStreak }, 'the provider is full; the line waits');
  }

  /**
   * The pause is the database's, one for every process on it (shards): a
   * pause another process stored is followed here without a POST of our own
   * to learn it, and one it lifted is lifted here. Told by neither: the
   * process that stored or removed it tells moderators.
   */
  private followStoredPause(): void {
    const stored = this.state.get(PAUSE_KEY);
    if (stored && !this.pause) {
      this.pause = JSON.parse(stored) as PauseState;
      this.probeWaitMs = this.options.probeMinMs;
      this.probeAt = this.clock.now() + this.probeWaitMs;
      this.lastRefresh = -Infinity;
    } else if (!stored && this.pause) {
      this.pause = undefined;
      this.probeWaitMs = this.options.probeMinMs;
      this.lastRefresh = -Infinity;
    }
  }

  /**
   * Pauses the line (or, already paused, probes later and less often); true
   * when the pause is new — for every process: of two shards refused at
   * once, only the one that stores the pause reports it.
   */
  private pauseLine(reason: PauseState['reason'], message: string): boolean {
    const now = this.clock.now();
    let fresh = this.pause === undefined;
    if (fresh) {
      this.pause = { reason, message, since: now };
      this.probeWaitMs = this.options.probeMinMs;
      fresh = this.state.add(PAUSE_KEY, JSON.stringify(this.pause));
      if (fresh) this.log.error({ reason, message }, 'the provider refuses every job; the line is paused');
      else this.pause = JSON.parse(this.state.get(PAUSE_KEY) ?? JSON.stringify(this.pause)) as PauseState;
    } else {
      this.probeWaitMs = Math.min(this.options.probeMaxMs, this.probeWaitMs * 2);
    }
    this.probeAt = now + this.probeWaitMs;
    this.lastRefresh = -Infinity; // members see the pause now
    return fresh;
  }

  private resume(): void {
    const was = this.pause!;
    this.pause = undefined;
    this.probeWaitMs = this.options.probeMinMs;
    this.lastRefresh = -Infinity;
    // Another process may have lifted it first (its probe went through): then it told moderators.
    if (!this.state.delete(PAUSE_KEY)) return;
    this.log.info({ pausedForMs: this.clock.now() - was.since }, 'the provider accepts jobs again; the line resumes');
    this.hooks.resumed(was);
  }

  /** Shows every waiting member their place (edits only where what they see changed, at the edit spacing). */
  private async refresh(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastRefresh < this.options.refreshMs) return;
    this.lastRefresh = now;
    // A long line is read in pages and ordered in stretches, the event loop running between them: a
    // command arriving meanwhile is acknowledged after one stretch, not after the whole line (bench part 1c).
    const line: LineRead = { waiting: [], holders: [], mine: new Set() };
    for (let after = this.jobs.linePage(line, 0, LINE_SLICE); after !== undefined;) {
      await setImmediate();
      after = this.jobs.linePage(line, after, LINE_SLICE);
    }
    line.holders = this.jobs.slotsHeld();
    // A POST under way was the head of the line: until it is answered (a 429 puts it back), it still counts
    // ahead of everyone, so no place shown ever moves back.
    const ahead = this.inFlight.size;
    const paused = this.pause !== undefined;
    // Each shard shows its own members their place in the one line.
    const places: (readonly [number, number])[] = [];
    let i = 0;
    for (const id of inLineOrder(line.waiting, line.holders)) {
      if (line.mine.has(id)) places.push([id, ahead + i + 1]);
      if (++i % LINE_SLICE === 0) await setImmediate();
    }
    const near = places.filter(([, place]) => place <= EXACT_PLACES);
    let far = places.filter(([, place]) => place > EXACT_PLACES);
    // A pause starting or ending is shown to everyone at once; otherwise the far places take turns.
    if (paused === this.refreshedPaused && far.length > FAR_PER_REFRESH) {
      const from = this.farTurn % far.length;
      far = [...far.slice(from), ...far.slice(0, from)].slice(0, FAR_PER_REFRESH);
      this.farTurn = from + far.length;
    }
    this.refreshedPaused = paused;
    let slice = 0;
    for (const [id, position] of [...near, ...far]) {
      if (++slice % REFRESH_SLICE === 0) await setImmediate();
      const job = this.jobs.get(id);
      if (job?.status === 'waiting') await this.presenter.showProgress(job, { position, paused });
    }
  }

  /** The next time a pass has work: the places' refresh, the end of a hold, a probe. Slots freed wake it anyway. */
  private armNext(): void {
    if (!this.running) return;
    const now = this.clock.now();
    if (!this.jobs.hasMineInLine()) return;
    const times = [this.lastRefresh + this.options.refreshMs];
    if (this.blockedUntil > now) times.push(this.blockedUntil);
    if (this.pause && this.probeAt > now) times.push(this.probeAt);
    this.arm(Math.max(0, Math.min(...times) - now));
  }
}
