import { Routes, type REST } from 'discord.js';
import type { Clock, TimerHandle, Timers } from '../clock.js';
import type { RefusalReason } from '../db/controls-repository.js';
import type { Job } from '../db/jobs-repository.js';
import { isIn, type JobStatus } from '../jobs/lifecycle.js';
import type { Logger } from '../logger.js';
import { renderModLogLine, renderModLogOverflow } from '../ui/mod-log-view.js';
import { classifyDiscordError } from './discord-messenger.js';

/** What the moderator log records. `at` is when it happened (lines may be posted a little later). */
export type ModLogEvent =
  | {
      kind: 'job_started';
      at: number;
      userId: string;
      jobId: number;
      model: string;
      seconds: number;
      cost: number;
      /** A private job's prompt is never logged. */
      private: boolean;
      prompt: string;
      channelId: string;
      messageId: string | null;
    }
  | {
      kind: 'job_failed';
      at: number;
      userId: string;
      jobId: number;
      model: string;
      seconds: number;
      status: string;
      code: string | null;
      channelId: string;
      messageId: string | null;
    }
  | {
      kind: 'refused';
      at: number;
      userId: string;
      reason: RefusalReason;
      model: string;
      seconds: number;
      channelId: string;
    }
  | { kind: 'settings'; at: number; userId: string; changes: Record<string, unknown> };

/** What the job services call as jobs start and fail. */
export interface JobLifecycleEvents {
  started(job: Job): void;
  failed(job: Job): void;
}

/**
 * What the moderator log hears of the lifecycle: a job accepted upstream
 * (started), and a job that ended without a video for a reason other than a
 * cancel (failed). Plugged into JobEvents as its observer.
 */
export function lifecycleObserver(events: JobLifecycleEvents): (job: Job, from: JobStatus) => void {
  return (job, from) => {
    if (from === 'submitting' && isIn(job.status, 'polled')) events.started(job);
    else if (isIn(job.status, 'failure') && !CANCELLED.has(job.status)) events.failed(job);
  };
}

const CANCELLED: ReadonlySet<JobStatus> = new Set(['withdrawn', 'cancelled']);

/** How a batch went: posted, worth trying again, or not postable there at all. */
export type LogSendResult = 'ok' | 'retry' | 'drop';

export interface LogSender {
  send(channelId: string, content: string): Promise<LogSendResult>;
}

/** Posts through the bot's channel route; never pings (allowed_mentions none). */
export class ChannelLogSender implements LogSender {
  constructor(private readonly rest: REST) {}

  async send(channelId: string, content: string): Promise<LogSendResult> {
    try {
      await this.rest.post(Routes.channelMessages(channelId), { body: { content, allowed_mentions: { parse: [] } } });
      return 'ok';
    } catch (err) {
      const c = classifyDiscordError(err);
      return c.reason === 'transient' ? 'retry' : 'drop';
    }
  }
}

export interface ModLogOptions {
  /** At most one message per channel this often. */
  intervalMs: number;
  /** After a quiet spell, wait this long so a burst goes out as one message. */
  batchDelayMs: number;
  /** Lines kept waiting per channel; beyond, they are counted and summarised. */
  maxQueued: number;
  /** Tries of one batch before it is given up. */
  maxAttempts: number;
}

export const DEFAULT_MOD_LOG_OPTIONS: ModLogOptions = {
  intervalMs: 10_000,
  batchDelayMs: 2_000,
  maxQueued: 200,
  maxAttempts: 3,
};

/** Discord's message content limit. */
const MESSAGE_MAX = 2_000;

interface Queue {
  guildId: string;
  channelId: string;
  events: ModLogEvent[];
  /** Events dropped because the queue was full, reported as one line. */
  overflow: number;
  attempts: number;
  lastSentAt: number;
  timer: TimerHandle | undefined;
  sending: boolean;
}

/**
 * The moderator log: one compact line per event, posted to the server's log
 * channel in batches — at most one message per channel every `intervalMs`,
 * each under 2,000 characters — so a busy server does not flood it or meet
 * Discord's rate limits. The flush runs on the injected Timers, so tests
 * drive it with a ManualClock. Lines are rendered when posted, in the
 * server's language at that moment.
 */
export class ModLog implements JobLifecycleEvents {
  private readonly queues = new Map<string, Queue>();
  private inFlight = 0;
  private closed = false;

  constructor(
    /** The server's log channel now, or null when its log is off. */
    private readonly channelOf: (guildId: string) => string | null,
    private readonly sender: LogSender,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly log: Logger,
    /** The language the server's moderators read (its preferred locale). */
    private readonly localeOf: (guildId: string) => string,
    private readonly options: ModLogOptions = DEFAULT_MOD_LOG_OPTIONS,
  ) {}

  /** Batches being posted right now (the app is idle only when none is). */
  get sending(): number {
    return this.inFlight;
  }

  /**
   * Queues a line for the server's log channel; nothing when the log is off.
   * `channelId` sends it elsewhere (the old channel, when a change turned
   * the log off). Never throws: a log line must not fail what it records.
   */
  record(guildId: string | null, event: ModLogEvent, options: { channelId?: string | null } = {}): void {
    if (!guildId || this.closed) return;
    try {
      const channelId = options.channelId !== undefined ? options.channelId : this.channelOf(guildId);
      if (!channelId) return;
      const key = `${guildId}:${channelId}`;
      let q = this.queues.get(key);
      if (!q) {
        q = {
          guildId,
          channelId,
          events: [],
          overflow: 0,
          attempts: 0,
          lastSentAt: Number.NEGATIVE_INFINITY,
          timer: undefined,
          sending: false,
        };
        this.queues.set(key, q);
      }
      if (q.events.length >= this.options.maxQueued) q.overflow++;
      else q.events.push(event);
      this.schedule(q);
    } catch (err) {
      this.log.warn({ err, guildId, kind: event.kind }, 'could not queue a moderator log line');
    }
  }

  started(job: Job): void {
    this.record(job.guildId, {
      kind: 'job_started',
      at: this.clock.now(),
      userId: job.userId,
      jobId: job.id,
      model: job.model,
      seconds: job.seconds,
      cost: job.cost,
      private: job.private,
      prompt: job.prompt,
      channelId: job.channelId,
      messageId: job.messageId,
    });
  }

  failed(job: Job): void {
    this.record(job.guildId, {
      kind: 'job_failed',
      at: this.clock.now(),
      userId: job.userId,
      jobId: job.id,
      model: job.model,
      seconds: job.seconds,
      status: job.status,
      code: job.errorCode,
      channelId: job.channelId,
      messageId: job.messageId,
    });
  }

  /** Posts what is queued now, once per channel, and stops scheduling. */
  async close(): Promise<void> {
    this.closed = true;
    const pending: Promise<void>[] = [];
    for (const q of this.queues.values()) {
      q.timer?.cancel();
      q.timer = undefined;
      if (!q.sending && (q.events.length > 0 || q.overflow > 0)) pending.push(this.flush(q));
    }
    await Promise.allSettled(pending);
  }

  private schedule(q: Queue): void {
    // An empty queue stays in the map: it remembers when it last posted, which spaces the next post.
    if (q.timer || q.sending || this.closed || (q.events.length === 0 && q.overflow === 0)) return;
    const now = this.clock.now();
    const at = Math.max(now + this.options.batchDelayMs, q.lastSentAt + this.options.intervalMs);
    q.timer = this.timers.setTimeout(() => {
      q.timer = undefined;
      void this.flush(q);
    }, at - now);
  }

  private async flush(q: Queue): Promise<void> {
    const locale = this.localeOf(q.guildId);
    const lines: string[] = [];
    let length = 0;
    const overflowRoom = q.overflow > 0 ? 80 : 0;
    for (const e of q.events) {
      const line = renderModLogLine(locale, q.guildId, e);
      const added = line.length + (lines.length > 0 ? 1 : 0);
      if (length + added > MESSAGE_MAX - overflowRoom) break;
      lines.push(line);
      length += added;
    }
    const batch = q.events.splice(0, lines.length);
    const overflow = q.overflow;
    q.overflow = 0;
    if (overflow > 0) lines.push(renderModLogOverflow(locale, overflow));
    if (lines.length === 0) return;
    q.sending = true;
    this.inFlight++;
    let result: LogSendResult;
    try {
      result = await this.sender.send(q.channelId, lines.join('\n'));
    } catch (err) {
      this.log.warn({ err, guildId: q.guildId }, 'moderator log post failed');
      result = 'retry';
    } finally {
      q.sending = false;
      this.inFlight--;
    }
    q.lastSentAt = this.clock.now();
    if (result === 'retry' && ++q.attempts < this.options.maxAttempts) {
      q.events.unshift(...batch);
      q.overflow += overflow;
    } else {
      if (result !== 'ok')
        this.log.warn(
          { guildId: q.guildId, channelId: q.channelId, lines: batch.length, result },
          'moderator log lines dropped: the channel cannot be posted to',
        );
      q.attempts = 0;
    }
    this.schedule(q);
  }
}
