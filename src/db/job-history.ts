import { type FinishedJob, PRIOR_WINDOW, type PollPrior, buildPrior, withFinishedJob } from '../services/poll-prior.js';
import { isIn, type JobStatus } from '../jobs/lifecycle.js';
import type { Db } from './database.js';
import type { Job } from './jobs-repository.js';

/**
 * Read-only: how jobs left polling (recorded by the lifecycle, migration 006),
 * for the poll schedule's learned prior. Two questions only — the recent
 * history at start, and one job that just ended — so the prior is never
 * rebuilt from a table scan while the bot runs.
 */
interface EndRow {
  id: number;
  model: string;
  seconds: number;
  size: string;
  submitted_at: number;
  started_at: number | null;
  started_progress: number | null;
  end_progress: number | null;
  end_progress_at: number | null;
  end_prev_poll_at: number | null;
  ended_at: number;
  status: string;
}

const COLUMNS = `id, model, seconds, size, submitted_at, started_at, started_progress, end_progress,
  end_progress_at, end_prev_poll_at, ended_at, status`;
/**
 * Ends that say something about the provider's timing. A task upstream no
 * longer knew ended by vanishing, not by finishing: the lifecycle records no
 * end for it (lifecycle.ts pollFailed), so it has no ended_at.
 */
const USABLE = `ended_at IS NOT NULL AND submitted_at IS NOT NULL`;

function toFinishedJob(r: EndRow): FinishedJob {
  return {
    jobId: r.id,
    model: r.model,
    seconds: r.seconds,
    size: r.size,
    submittedAt: r.submitted_at,
    startedAt: r.started_at,
    startedProgress: r.started_progress,
    endProgress: r.end_progress ?? 0,
    endProgressAt: r.end_progress_at,
    prevPollAt: r.end_prev_poll_at,
    endedAt: r.ended_at,
    outcome: r.status === 'timed_out' ? 'timed_out' : r.status === 'failed' ? 'failed' : 'completed',
  };
}

export class JobHistory {
  private readonly recentStmt;
  private readonly oneStmt;

  constructor(db: Db) {
    // Every level the prior keeps (model × seconds × size, model × seconds,
    // model, all) keeps its own most recent n: a job is read if it is among
    // the n newest of any of its levels. Newest-first order within a level
    // breaks ties by id, as poll-prior.ts does.
    this.recentStmt = db.prepare<{ n: number }, EndRow>(`
      SELECT ${COLUMNS} FROM (
        SELECT ${COLUMNS},
          row_number() OVER (PARTITION BY model, seconds, size ORDER BY ended_at DESC, id DESC) AS r3,
          row_number() OVER (PARTITION BY model, seconds ORDER BY ended_at DESC, id DESC) AS r2,
          row_number() OVER (PARTITION BY model ORDER BY ended_at DESC, id DESC) AS r1,
          row_number() OVER (ORDER BY ended_at DESC, id DESC) AS r0
        FROM jobs WHERE ${USABLE}
      )
      WHERE r3 <= @n OR r2 <= @n OR r1 <= @n OR r0 <= @n
      ORDER BY ended_at, id`);
    this.oneStmt = db.prepare<[number], EndRow>(`SELECT ${COLUMNS} FROM jobs WHERE id = ? AND ${USABLE}`);
  }

  /** What buildPrior needs at start: the most recent ends of every group level, oldest first. */
  recent(perGroup = PRIOR_WINDOW): FinishedJob[] {
    return this.recentStmt.all({ n: perGroup }).map(toFinishedJob);
  }

  /** A job's end, once it has left polling (undefined before, or if it says nothing about timing). */
  get(jobId: number): FinishedJob | undefined {
    const row = this.oneStmt.get(jobId);
    return row && toFinishedJob(row);
  }
}

/**
 * The prior the bot polls with: built from the history once at start, then
 * extended by each job as it leaves polling — one read by primary key per
 * finished job, never a scan while running. Pass `prior` to nextPollDelay
 * and estimateRemaining.
 */
export class PollHistory {
  private readonly reader: JobHistory;
  #prior: PollPrior;

  constructor(db: Db) {
    this.reader = new JobHistory(db);
    this.#prior = buildPrior(this.reader.recent());
  }

  get prior(): PollPrior {
    return this.#prior;
  }

  /** A JobEvents observer: a job that just left polling (completed, failed, timed out) joins the prior. */
  observe(job: Job, from: JobStatus): void {
    if (isIn(from, 'polled') && !isIn(job.status, 'polled')) this.jobEnded(job.id);
  }

  /** Call after a job's transition out of queued/in_progress (completed, failed, timed out); others are ignored. */
  jobEnded(jobId: number): void {
    const ended = this.reader.get(jobId);
    if (ended) this.#prior = withFinishedJob(this.#prior, ended);
  }
}
