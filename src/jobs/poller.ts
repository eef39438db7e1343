import type { Clock, TimerHandle, Timers } from '../clock.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';

export interface PollerOptions {
  /** Most job steps running at once (each is at most one upstream request plus Discord calls). */
  concurrency: number;
  /** A claimed job is not picked again for this long, even if its step hangs. */
  leaseMs: number;
  /** At start, unfinished jobs are spread over at most this window. */
  resumeSpreadMs: number;
  /** The scheduler looks at the database at least this often. */
  idleCheckMs: number;
  /** Told how late each step starts after its job fell due (metrics). */
  stepStarted?: (lateMs: number) => void;
}

export interface StepRunner {
  step(job: Job): Promise<void>;
}

/**
 * The one scheduler that owns every unfinished job: a single timer armed for
 * the earliest `next_run_at` in the database, not a timer per job. Due jobs
 * are claimed (their `next_run_at` pushed out by a lease) and run with a
 * global cap on concurrency; each step writes the job's next time itself.
 */
export class Poller {
  private timer: TimerHandle | undefined;
  private readonly inFlight = new Map<number, Promise<void>>();
  private running = false;
  private ticking = false;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly runner: StepRunner,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly log: Logger,
    private readonly options: PollerOptions,
  ) {}

  /** Starts scheduling. Unfinished jobs from a previous run are spread out, oldest due first. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.spreadResumedJobs();
    this.tick();
  }

  /** Asks the scheduler to look again now (a job was added or became due). */
  wake(): void {
    if (!this.running) return;
    this.arm(0);
  }

  /** Stops taking new steps and waits (up to `timeoutMs`) for running ones. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    const all = Promise.allSettled([...this.inFlight.values()]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  get activeSteps(): number {
    return this.inFlight.size;
  }

  private spreadResumedJobs(): void {
    const now = this.clock.now();
    // Anything due soon, including leases left by a crashed process, is re-spread from now.
    const horizon = now + Math.max(this.options.resumeSpreadMs, this.options.leaseMs);
    const due = this.jobs.due(horizon, 1_000_000);
    if (due.length === 0) return;
    const gap = Math.min(this.options.resumeSpreadMs / due.length, 1000);
    due.forEach((job, i) => this.jobs.patch(job.id, { nextRunAt: now + Math.floor(i * gap) }, now));
    this.log.info({ jobs: due.length, overMs: Math.round(gap * due.length) }, 'resuming unfinished jobs');
  }

  private arm(delayMs: number): void {
    this.timer?.cancel();
    this.timer = this.timers.setTimeout(() => this.tick(), Math.max(0, delayMs));
  }

  private tick(): void {
    if (!this.running || this.ticking) return;
    this.ticking = true;
    try {
      const now = this.clock.now();
      const free = this.options.concurrency - this.inFlight.size;
      if (free > 0) {
        for (const job of this.jobs.due(now, free + this.inFlight.size)) {
          if (this.inFlight.size >= this.options.concurrency) break;
          if (this.inFlight.has(job.id)) continue;
          this.launch(job, now);
        }
      }
      if (this.inFlight.size < this.options.concurrency) {
        const next = this.jobs.nextDueAt();
        const wait = next === null ? this.options.idleCheckMs : Math.min(this.options.idleCheckMs, next - now);
        this.arm(wait);
      } else {
        this.timer?.cancel();
        this.timer = undefined; // a finishing step re-arms
      }
    } catch (err) {
      this.log.error({ err }, 'scheduler tick failed');
      this.arm(this.options.idleCheckMs);
    } finally {
      this.ticking = false;
    }
  }

  private launch(job: Job, now: number): void {
    // The lease keeps this job out of `due()` while its step runs; the step
    // sets the real next time. A crash leaves the lease, and restart resets it.
    this.jobs.patch(job.id, { nextRunAt: now + this.options.leaseMs }, now);
    const leased = { ...job, nextRunAt: now + this.options.leaseMs };
    this.options.stepStarted?.(now - (job.nextRunAt ?? now));
    const run = this.runner
      .step(leased)
      .catch((err: unknown) => this.log.error({ err, jobId: job.id }, 'job step failed'))
      .finally(() => {
        this.inFlight.delete(job.id);
        if (this.running) this.arm(0);
      });
    this.inFlight.set(job.id, run);
  }
}
