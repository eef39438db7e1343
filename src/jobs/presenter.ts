import type { Clock } from '../clock.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import type { DiscordMessenger, SendOutcome } from '../services/discord-messenger.js';
import { estimateRemaining } from '../services/poll-policy.js';
import type { PollPrior } from '../services/poll-prior.js';
import {
  EXACT_PLACES,
  messageLink,
  progressKey,
  renderFailureNotice,
  renderJob,
  renderMovedReply,
  type MessageBody,
  type ProgressView,
} from '../ui/render.js';
import { isIn } from './lifecycle.js';

/**
 * Discord caps edits of messages older than an hour (HTTP 429, code 30046,
 * developers/topics/opcodes-and-status-codes); a job that runs longer moves
 * its progress to a fresh message before its reply gets there.
 */
export const MOVE_REPLY_AFTER_MS = 50 * 60_000;

/**
 * A place in line beyond those shown exactly (render.ts) is edited at most
 * once per this many edit spacings: far back, the place moves with every
 * member who joins ahead and tells little, while each edit is a Discord
 * request and a row write (bench part 1c: most edits of a long line).
 */
export const FAR_PLACE_SPACING = 6;

export interface PresenterOptions {
  /** Minimum spacing of progress edits of one message. */
  progressEditMs: number;
  /** Whether requests that are only nice to have may go now (the invalid-request guard). */
  optionalAllowed?: () => boolean;
  /** What earlier jobs took (the time left where progress says little), as it stands now. */
  prior?: () => PollPrior;
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
    const eta = estimateRemaining(
      {
        now: this.clock.now(),
        submittedAt: job.submittedAt,
        progress: job.progress,
        progressChangedAt: job.progressChangedAt,
        startedAt: job.startedAt,
        startedProgress: job.startedProgress,
        errorStreak: job.errorStreak,
        model: job.model,
        seconds: job.seconds,
        size: job.size,
      },
      this.options.prior?.(),
    );
    if (!eta || eta.etaMs <= 0) return view;
    // From earlier jobs rather than this one's progress: shown as an estimate, never as a percentage.
    return { ...view, etaMs: eta.etaMs, ...(eta.basis === 'history' ? { etaEstimated: true } : {}) };
  }

  /**
   * Edits the reply when what the member sees changed and the last edit is
   * old enough. Progress is only progress: an edit Discord rate-limits is
   * skipped (the next change tries again), and a reply about to turn an hour
   * old is replaced by a fresh message first, changed or not. Returns whether it showed.
   */
  async showProgress(job: Job, line?: { position?: number; paused?: boolean }): Promise<boolean> {
    if (job.messageGone) return false;
    if (this.options.optionalAllowed && !this.options.optionalAllowed()) return false;
    const view = this.progressView(job, line);
    const key = progressKey(job.locale, view);
    const now = this.clock.now();
    const far = !view.paused && view.position !== undefined && view.position > EXACT_PLACES;
    const spacing = this.options.progressEditMs * (far ? FAR_PLACE_SPACING : 1);
    if (job.shownAt !== null && now - job.shownAt < spacing) return false;
    // An aging reply moves even when nothing changed: a job stalled at one
    // percentage may change next only after the reply is past editing.
    const aging = this.replyAging(job);
    if (key === job.shownKey && !aging) return false;
    const body = renderJob(job, view);
    if (aging) return this.moveReply(job, body, key);
    const outcome = await this.messenger.editReply(job, body);
    if (!outcome.ok && (outcome.reason === 'archived' || (outcome.reason === 'rate_limited' && this.replyOld(job))))
      return this.moveReply(job, body, key);
    this.noteEdit(job, outcome, key);
    return outcome.ok;
  }

  /**
   * Shows how the job ended on its reply: where the video is, or why there is
   * none. When a failure cannot be shown there (gone, unreachable, an
   * archived thread, an hour-old reply Discord will not edit), it goes to a
   * new message that mentions the member — a new message also unarchives an
   * archived thread.
   */
  async showOutcome(job: Job): Promise<void> {
    const failure = isIn(job.status, 'failure');
    if (this.replyOld(job)) {
      if (failure) await this.tellFailure(job);
      return;
    }
    const outcome = await this.messenger.editReply(job, renderJob(job));
    this.noteEdit(job, outcome, `final:${job.status}`);
    if (!failure || outcome.ok) return;
    if (['gone', 'forbidden', 'token_expired', 'archived', 'rate_limited'].includes(outcome.reason))
      await this.tellFailure(job);
  }

  private async tellFailure(job: Job): Promise<void> {
    const posted = await this.messenger.post(job, renderFailureNotice(job));
    if (!posted.ok)
      this.log.warn({ jobId: job.id, reason: posted.reason }, 'could not tell the member that the job failed');
  }

  /** Old enough that the next edits risk Discord's cap on edits of hour-old messages. */
  private replyAging(job: Job): boolean {
    const created = this.messenger.replyCreatedAt(job);
    return created !== undefined && this.clock.now() - created >= MOVE_REPLY_AFTER_MS;
  }

  /** Past the hour: Discord caps its edits. */
  private replyOld(job: Job): boolean {
    const created = this.messenger.replyCreatedAt(job);
    return created !== undefined && this.clock.now() - created >= 60 * 60_000;
  }

  /**
   * The job's progress moves to a fresh message in the channel; the old reply
   * says where (a best effort: an edit of it may itself be refused). The new
   * message is the job's reply from now on, reached through the channel
   * route (the interaction token only ever reaches the first one).
   */
  private async moveReply(job: Job, body: MessageBody, key: string): Promise<boolean> {
    const posted = await this.messenger.post(job, body);
    if (!posted.ok) {
      this.log.info({ jobId: job.id, reason: posted.reason }, 'could not move the progress to a fresh message');
      return false;
    }
    const now = this.clock.now();
    this.jobs.patch(
      job.id,
      { messageId: posted.messageId, interactionToken: null, shownKey: key, shownAt: now, messageGone: false },
      now,
    );
    if (job.messageId && !job.messageGone) {
      const link = messageLink(job.guildId, posted.channelId, posted.messageId);
      const pointer = await this.messenger.editReply(job, renderMovedReply(job, link));
      if (!pointer.ok) this.log.debug({ jobId: job.id, reason: pointer.reason }, 'the old reply keeps its last state');
    }
    return true;
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
    } else if (outcome.reason !== 'transient' && outcome.reason !== 'rate_limited') {
      this.log.debug({ jobId: job.id, outcome }, 'reply edit refused');
    }
  }
}
