import type { Clock } from '../clock.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import { decide, type Effect, type JobEvent, type JobStatus, type LifecycleRules } from './lifecycle.js';
import type { Presenter } from './presenter.js';

/** An event applied to the row: the job as it is now, and what is left to run. */
export interface Applied {
  job: Job;
  effects: readonly Effect[];
}

/**
 * Where events meet the database: the lifecycle decides, the row changes by
 * compare-and-swap on the status the caller saw, and then the step's effects
 * run. A refused event or a lost race changes nothing and runs nothing — which
 * is how two passes can never deliver one video twice.
 */
export class JobEvents {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly clock: Clock,
    private readonly rules: LifecycleRules,
    private readonly presenter: Presenter,
    private readonly wake: { scheduler(): void; dispatcher(): void },
    private readonly log: Logger,
    /** Told of every change that happened (the moderator log listens here). */
    private readonly observe: (job: Job, from: JobStatus) => void = () => undefined,
  ) {}

  /** Decides and writes, without running the effects (for callers that run them later). */
  apply(job: Job, event: JobEvent): Applied | undefined {
    const now = this.clock.now();
    const decision = decide(job, event, now, this.rules);
    if (!decision.ok) {
      this.log.debug({ jobId: job.id, event: event.type, why: decision.reason }, 'event refused');
      return undefined;
    }
    const { from, to, patch, effects } = decision.step;
    const updated = this.jobs.transition(job.id, from, to, patch, now);
    if (!updated) {
      this.log.debug({ jobId: job.id, event: event.type, from }, 'event lost a race; the row moved on');
      return undefined;
    }
    this.observe(updated, from);
    return { job: updated, effects };
  }

  /** Applies the event and runs its effects; the updated job, or undefined when nothing changed. */
  async emit(job: Job, event: JobEvent): Promise<Job | undefined> {
    const applied = this.apply(job, event);
    if (!applied) return undefined;
    await this.run(applied);
    return applied.job;
  }

  async run({ job, effects }: Applied): Promise<void> {
    for (const effect of effects) {
      switch (effect.type) {
        case 'wake':
          this.wake.scheduler();
          break;
        case 'dispatch':
          this.wake.dispatcher();
          break;
        case 'showProgress':
          await this.presenter.showProgress(job);
          break;
        case 'showOutcome':
          await this.presenter.showOutcome(job);
          break;
      }
    }
  }
}
