import type { Clock } from '../clock.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import type { DiscordMessenger, SendOutcome } from '../services/discord-messenger.js';
import { estimateRemainingMs } from '../services/poll-policy.js';
import { progressKey, renderFailureNotice, renderJob, type ProgressView } from '../ui/render.js';
import { isIn } from './lifecycle.js';

export interface PresenterOptions {
  /** Minimum spacing of progress edits of one message. */
  progressEditMs: number;
}

/**
 * What members see of a job after the command: its reply, kept up to date
 * (throttled, and only when what it shows changes), and its outcome. Every
 * step reads and writes the job row, so a restart continues where the last
 * process stopped.
 */
export class Presenter {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly messenger: DiscordMessenger,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: PresenterOptions,
  ) {}

  /**
   * What the reply shows while the job waits or runs: status, progress, the
   * time left when it can be told, and while waiting, its place (which only
   * the dispatcher knows, so it passes it in).
   */
  progressView(job: Job, line: { position?: number; paused?: boolean } = {}): ProgressView {
    const view: ProgressView = { status: job.status, progress: job.progress, ...line };
    if (!isIn(job.status, 'polled') || job.submittedAt === null) return view;
    const etaMs = estimateRemainingMs({
      now: this.clock.now(),
      submittedAt: job.submittedAt,
      progress: job.progress,
      progressChangedAt: job.progressChangedAt,
      startedAt: job.startedAt,
      startedProgress: job.startedProgress,
      errorStreak: job.errorStreak,
    });
    return etaMs !== undefined && etaMs > 0 ? { ...view, etaMs } : view;
  }

  /** Edits the reply when what the member sees changed and the last edit is old enough. Returns whether it did. */
  async showProgress(job: Job, line?: { position?: number; paused?: boolean }): Promise<boolean> {
    if (job.messageGone) return false;
    const view = this.progressView(job, line);
    const key = progressKey(job.locale, view);
    const now = this.clock.now();
    if (key === job.shownKey) return false;
    if (job.shownAt !== null && now - job.shownAt < this.options.progressEditMs) return false;
    const outcome = await this.messenger.editReply(job, renderJob(job, view));
    this.noteEdit(job, outcome, key);
    return outcome.ok;
  }

  /**
   * Shows how the job ended on its reply: where the video is, or why there is
   * none. When a failure cannot be shown on the reply (gone, or no longer
   * reachable), it goes to a new message that mentions the member.
   */
  async showOutcome(job: Job): Promise<void> {
    const body = renderJob(job);
    const outcome = await this.messenger.editReply(job, body);
    this.noteEdit(job, outcome, `final:${job.status}`);
    if (!isIn(job.status, 'failure') || outcome.ok) return;
    if (outcome.reason === 'gone' || outcome.reason === 'forbidden' || outcome.reason === 'token_expired') {
      const posted = await this.messenger.post(job, renderFailureNotice(job));
      if (!posted.ok)
        this.log.warn({ jobId: job.id, reason: posted.reason }, 'could not tell the member that the job failed');
    }
  }

  private noteEdit(job: Job, outcome: SendOutcome, key: string): void {
    const now = this.clock.now();
    if (outcome.ok) {
      this.jobs.patch(
        job.id,
        { shownKey: key, shownAt: now, ...(job.messageId ? {} : { messageId: outcome.messageId }) },
        now,
      );
    } else if (outcome.reason === 'gone' || outcome.reason === 'forbidden') {
      this.jobs.patch(job.id, { messageGone: true }, now);
    } else if (outcome.reason === 'token_expired') {
      this.jobs.patch(job.id, { interactionToken: null }, now);
    } else if (outcome.reason !== 'transient') {
      this.log.debug({ jobId: job.id, outcome }, 'reply edit refused');
    }
  }
}
