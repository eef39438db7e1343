import type { LineEntry, SlotHolder } from '../jobs/fair-line.js';
import { INITIAL_STATUS, statusesIn, type JobStatus } from '../jobs/lifecycle.js';
import { ownershipSql, WHOLE, type ShardOwnership } from '../shard/ownership.js';
import type { Db } from './database.js';
import { sqlList } from './derived-schema.js';

export type { JobStatus } from '../jobs/lifecycle.js';

export interface JobParams {
  prompt: string;
  model: string;
  seconds: number;
  size: string;
  watermark: boolean;
  private: boolean;
  imagePath: string | null;
  imageName: string | null;
  imageType: string | null;
  imageUrl: string | null;
  characterUrl: string | null;
  characterTimestamps: string | null;
  characterFromTask: string | null;
  characterCreate: boolean | null;
  /** Settings the server's locks forced over the member's choice (e.g. `private`). */
  overrides: string[];
}

/** Who asked, where, and how the bot answers: what a job keeps of its interaction. */
export interface JobOrigin {
  interactionId: string;
  applicationId: string;
  guildId: string | null;
  channelId: string;
  userId: string;
  locale: string;
  tokenExpiresAt: number;
  attachmentSizeLimit: number;
}

export interface Job extends JobParams, JobOrigin {
  id: number;
  /** Cleared once Discord refuses it (after its 15 minutes). */
  interactionToken: string | null;
  messageId: string | null;
  messageGone: boolean;
  status: JobStatus;
  upstreamId: string | null;
  progress: number;
  /** When the current progress value was first seen (for the time-left estimate). */
  progressChangedAt: number | null;
  /** When the job was first seen running upstream (null while queued), and its progress then. */
  startedAt: number | null;
  startedProgress: number | null;
  videoUrl: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  createdAt: number;
  submittedAt: number | null;
  /** When the job times out; fixed at submission. */
  deadlineAt: number | null;
  finishedAt: number | null;
  nextRunAt: number | null;
  pollCount: number;
  errorStreak: number;
  shownKey: string | null;
  shownAt: number | null;
  deliveryAttempts: number;
  deliveryClaimedAt: number | null;
  /** The first time a post of the video went out to Discord: later attempts look for it first. */
  postAttemptedAt: number | null;
  /** Who cancelled it (the member or a moderator), when it was cancelled. */
  cancelledBy: string | null;
  /** The latest status check (or the create answer). */
  lastPolledAt: number | null;
  /** How the job left polling, for the learned prior: when, from what progress, after which check. */
  endedAt: number | null;
  endProgress: number | null;
  endProgressAt: number | null;
  endPrevPollAt: number | null;
  deliveredMessageId: string | null;
  deliveryMode: 'attachment' | 'link' | null;
  /** Credits the job counted against the server's budget when it was admitted. */
  cost: number;
  updatedAt: number;
}

interface JobRow {
  id: number;
  interaction_id: string;
  application_id: string;
  guild_id: string | null;
  channel_id: string;
  user_id: string;
  locale: string;
  interaction_token: string | null;
  token_expires_at: number;
  message_id: string | null;
  message_gone: number;
  attachment_size_limit: number;
  prompt: string;
  model: string;
  seconds: number;
  size: string;
  watermark: number;
  private: number;
  image_path: string | null;
  image_name: string | null;
  image_type: string | null;
  image_url: string | null;
  character_url: string | null;
  character_timestamps: string | null;
  character_from_task: string | null;
  character_create: number | null;
  overrides: string | null;
  status: JobStatus;
  upstream_id: string | null;
  progress: number;
  progress_changed_at: number | null;
  started_at: number | null;
  started_progress: number | null;
  video_url: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: number;
  submitted_at: number | null;
  deadline_at: number | null;
  finished_at: number | null;
  next_run_at: number | null;
  poll_count: number;
  error_streak: number;
  shown_key: string | null;
  shown_at: number | null;
  delivery_attempts: number;
  delivery_claimed_at: number | null;
  post_attempted_at: number | null;
  cancelled_by: string | null;
  last_polled_at: number | null;
  ended_at: number | null;
  end_progress: number | null;
  end_progress_at: number | null;
  end_prev_poll_at: number | null;
  delivered_message_id: string | null;
  delivery_mode: 'attachment' | 'link' | null;
  cost: number;
  updated_at: number;
}

function toJob(r: JobRow): Job {
  return {
    id: r.id,
    interactionId: r.interaction_id,
    applicationId: r.application_id,
    guildId: r.guild_id,
    channelId: r.channel_id,
    userId: r.user_id,
    locale: r.locale,
    interactionToken: r.interaction_token,
    tokenExpiresAt: r.token_expires_at,
    messageId: r.message_id,
    messageGone: r.message_gone === 1,
    attachmentSizeLimit: r.attachment_size_limit,
    prompt: r.prompt,
    model: r.model,
    seconds: r.seconds,
    size: r.size,
    watermark: r.watermark === 1,
    private: r.private === 1,
    imagePath: r.image_path,
    imageName: r.image_name,
    imageType: r.image_type,
    imageUrl: r.image_url,
    characterUrl: r.character_url,
    characterTimestamps: r.character_timestamps,
    characterFromTask: r.character_from_task,
    characterCreate: r.character_create === null ? null : r.character_create === 1,
    overrides: r.overrides ? r.overrides.split(',') : [],
    status: r.status,
    upstreamId: r.upstream_id,
    progress: r.progress,
    progressChangedAt: r.progress_changed_at,
    startedAt: r.started_at,
    startedProgress: r.started_progress,
    videoUrl: r.video_url,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    createdAt: r.created_at,
    submittedAt: r.submitted_at,
    deadlineAt: r.deadline_at,
    finishedAt: r.finished_at,
    nextRunAt: r.next_run_at,
    pollCount: r.poll_count,
    errorStreak: r.error_streak,
    shownKey: r.shown_key,
    shownAt: r.shown_at,
    deliveryAttempts: r.delivery_attempts,
    deliveryClaimedAt: r.delivery_claimed_at,
    postAttemptedAt: r.post_attempted_at,
    cancelledBy: r.cancelled_by,
    lastPolledAt: r.last_polled_at,
    endedAt: r.ended_at,
    endProgress: r.end_progress,
    endProgressAt: r.end_progress_at,
    endPrevPollAt: r.end_prev_poll_at,
    deliveredMessageId: r.delivered_message_id,
    deliveryMode: r.delivery_mode,
    cost: r.cost,
    updatedAt: r.updated_at,
  };
}

export interface NewJob extends JobParams, JobOrigin {
  interactionToken: string;
  /** Credits the job counts against the server's budget (default 0). */
  cost?: number;
}

/** Member limits checked in the same transaction as the insert. */
export interface Quota {
  /** Unfinished jobs the member may have at once; 0 = unlimited. */
  maxActive: number;
  /** Jobs the member may start per UTC day; 0 = unlimited. */
  dailyLimit: number;
  /** Start of the current UTC day, in ms. */
  dayStart: number;
  /** Jobs the whole server may start per UTC day; 0 or absent = unlimited. */
  serverDailyLimit?: number;
  /** Credits the whole server may spend per UTC day; 0 or absent = unlimited. */
  serverDailyCredits?: number;
}

export type InsertResult =
  | { ok: true; job: Job }
  | { ok: false; reason: 'max_active'; active: number }
  | { ok: false; reason: 'daily_limit'; today: number }
  | { ok: false; reason: 'server_daily_limit'; today: number }
  | { ok: false; reason: 'server_daily_credits'; used: number; cost: number }
  | { ok: false; reason: 'duplicate'; job: Job };

/** Fields a state transition may set along with the status. */
export type JobPatch = Partial<
  Pick<
    Job,
    | 'interactionToken'
    | 'messageId'
    | 'messageGone'
    | 'upstreamId'
    | 'progress'
    | 'progressChangedAt'
    | 'startedAt'
    | 'startedProgress'
    | 'videoUrl'
    | 'errorCode'
    | 'errorMessage'
    | 'submittedAt'
    | 'deadlineAt'
    | 'finishedAt'
    | 'nextRunAt'
    | 'pollCount'
    | 'errorStreak'
    | 'shownKey'
    | 'shownAt'
    | 'deliveryAttempts'
    | 'deliveryClaimedAt'
    | 'postAttemptedAt'
    | 'cancelledBy'
    | 'lastPolledAt'
    | 'endedAt'
    | 'endProgress'
    | 'endProgressAt'
    | 'endPrevPollAt'
    | 'deliveredMessageId'
    | 'deliveryMode'
    | 'imagePath'
    | 'imageType'
  >
>;

const PATCH_COLUMNS: Record<keyof JobPatch, string> = {
  interactionToken: 'interaction_token',
  messageId: 'message_id',
  messageGone: 'message_gone',
  upstreamId: 'upstream_id',
  progress: 'progress',
  progressChangedAt: 'progress_changed_at',
  startedAt: 'started_at',
  startedProgress: 'started_progress',
  videoUrl: 'video_url',
  errorCode: 'error_code',
  errorMessage: 'error_message',
  submittedAt: 'submitted_at',
  deadlineAt: 'deadline_at',
  finishedAt: 'finished_at',
  nextRunAt: 'next_run_at',
  pollCount: 'poll_count',
  errorStreak: 'error_streak',
  shownKey: 'shown_key',
  shownAt: 'shown_at',
  deliveryAttempts: 'delivery_attempts',
  deliveryClaimedAt: 'delivery_claimed_at',
  postAttemptedAt: 'post_attempted_at',
  cancelledBy: 'cancelled_by',
  lastPolledAt: 'last_polled_at',
  endedAt: 'ended_at',
  endProgress: 'end_progress',
  endProgressAt: 'end_progress_at',
  endPrevPollAt: 'end_prev_poll_at',
  deliveredMessageId: 'delivered_message_id',
  deliveryMode: 'delivery_mode',
  imagePath: 'image_path',
  imageType: 'image_type',
};

const sqlValue = (v: unknown): unknown => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

/** The columns a new job is inserted with, in insertValues' order; the others take their defaults. */
const INSERT_COLUMNS = [
  'interaction_id',
  'application_id',
  'guild_id',
  'channel_id',
  'user_id',
  'locale',
  'interaction_token',
  'token_expires_at',
  'attachment_size_limit',
  'prompt',
  'model',
  'seconds',
  'size',
  'watermark',
  'private',
  'image_path',
  'image_name',
  'image_type',
  'image_url',
  'character_url',
  'character_timestamps',
  'character_from_task',
  'character_create',
  'overrides',
  'cost',
  'status',
  'created_at',
  'updated_at',
] as const;

function insertValues(j: Job): unknown[] {
  return [
    j.interactionId,
    j.applicationId,
    j.guildId,
    j.channelId,
    j.userId,
    j.locale,
    j.interactionToken,
    j.tokenExpiresAt,
    j.attachmentSizeLimit,
    j.prompt,
    j.model,
    j.seconds,
    j.size,
    sqlValue(j.watermark),
    sqlValue(j.private),
    j.imagePath,
    j.imageName,
    j.imageType,
    j.imageUrl,
    j.characterUrl,
    j.characterTimestamps,
    j.characterFromTask,
    j.characterCreate === null ? null : sqlValue(j.characterCreate),
    j.overrides.length > 0 ? j.overrides.join(',') : null,
    j.cost,
    j.status,
    j.createdAt,
    j.updatedAt,
  ];
}

/**
 * A new job as its row reads once inserted: the given fields, and every other
 * column at its schema default (a test holds this equal to a read of the row).
 * The id is the insert's. Fields are listed one by one, so nothing a caller's
 * object carries besides a NewJob's fields reaches the Job.
 */
export function insertedJob(j: NewJob, cost: number, now: number): Job {
  return {
    id: 0,
    interactionId: j.interactionId,
    applicationId: j.applicationId,
    guildId: j.guildId,
    channelId: j.channelId,
    userId: j.userId,
    locale: j.locale,
    interactionToken: j.interactionToken,
    tokenExpiresAt: j.tokenExpiresAt,
    messageId: null,
    messageGone: false,
    attachmentSizeLimit: j.attachmentSizeLimit,
    prompt: j.prompt,
    model: j.model,
    seconds: j.seconds,
    size: j.size,
    watermark: j.watermark,
    private: j.private,
    imagePath: j.imagePath,
    imageName: j.imageName,
    imageType: j.imageType,
    imageUrl: j.imageUrl,
    characterUrl: j.characterUrl,
    characterTimestamps: j.characterTimestamps,
    characterFromTask: j.characterFromTask,
    characterCreate: j.characterCreate,
    overrides: [...j.overrides],
    status: INITIAL_STATUS,
    upstreamId: null,
    progress: 0,
    progressChangedAt: null,
    startedAt: null,
    startedProgress: null,
    videoUrl: null,
    errorCode: null,
    errorMessage: null,
    createdAt: now,
    submittedAt: null,
    deadlineAt: null,
    finishedAt: null,
    nextRunAt: null,
    pollCount: 0,
    errorStreak: 0,
    shownKey: null,
    shownAt: null,
    deliveryAttempts: 0,
    deliveryClaimedAt: null,
    postAttemptedAt: null,
    cancelledBy: null,
    lastPolledAt: null,
    endedAt: null,
    endProgress: null,
    endProgressAt: null,
    endPrevPollAt: null,
    deliveredMessageId: null,
    deliveryMode: null,
    cost,
    updatedAt: now,
  };
}

/** The line as read: ready jobs by id, who holds the running slots, and the ready jobs this process owns. */
export interface LineRead {
  waiting: LineEntry[];
  holders: SlotHolder[];
  mine: Set<number>;
}

/**
 * The most inserts a group commit holds (insertWithinQuotaGrouped). Its
 * commit costs about what one insert alone does, so 16 keeps most of the
 * saving (in-process: 170 µs per insert alone, 48 grouped by 20), while the
 * first command of a group waits for at most 15 others' checks. Bench part 1,
 * 200 at once, nine interleaved rounds: ours' median p99 94 → 82 ms (8: 84,
 * 32: 76; baseline 73), and in a second set 77 → 60 (baseline 45).
 */
export const GROUP_MAX_INSERTS = 16;

export class JobsRepository {
  private readonly byId;
  private readonly byInteraction;
  private readonly byUpstream;
  private readonly insertStmt;
  private readonly countActive;
  private readonly countSince;
  private readonly guildSince;
  private readonly dueStmt;
  private readonly nextDueStmt;
  private readonly withStatusStmt;
  private readonly lineStmt;
  private readonly mineInLineStmt;
  private readonly slotsInUseStmt;
  private readonly slotsStmt;
  private readonly recentStmt;
  private readonly countUserStmt;
  private readonly completedSearchStmt;
  private readonly guildUsageStmt;
  private readonly endedImagesStmt;
  private readonly imagePathsStmt;
  private readonly updateCache = new Map<string, ReturnType<Db['prepare']>>();
  /**
   * insertWithinQuota's transaction, built once: better-sqlite3's
   * `db.transaction(fn)` builds a wrapper each call, and this runs before
   * every deferral.
   */
  private readonly insertTx;
  private readonly groupTx;
  /** Whether an insert committed at once in this turn of the event loop (insertWithinQuotaGrouped). */
  private insertedThisTurn = false;
  /** Inserts asked for since the last group commit (insertWithinQuotaGrouped). */
  private group: {
    job: NewJob;
    quota: Quota;
    now: number;
    resolve: (result: InsertResult) => void;
    reject: (err: unknown) => void;
  }[] = [];

  /**
   * `ownership`: which jobs this process follows (src/shard/ownership.ts).
   * It narrows what the scheduler and the recovery see — `due()`,
   * `nextDueAt()`, `withStatus()` and the `mine` of `line()` — and nothing
   * else: reads by id, the limits, the line's order and the capacity count
   * stay over every shard's rows.
   */
  constructor(
    private readonly db: Db,
    readonly ownership: ShardOwnership = WHOLE,
  ) {
    const own = ownershipSql(ownership);
    this.byId = db.prepare<[number], JobRow>('SELECT * FROM jobs WHERE id = ?');
    this.byInteraction = db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE interaction_id = ?');
    this.byUpstream = db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE upstream_id = ?');
    this.endedImagesStmt = db.prepare<[number], { id: number; image_path: string }>(
      `SELECT id, image_path FROM jobs WHERE image_path IS NOT NULL AND finished_at < ?
         AND status IN (${sqlList(statusesIn('ended'))})`,
    );
    this.imagePathsStmt = db.prepare<[], { image_path: string }>(
      'SELECT image_path FROM jobs WHERE image_path IS NOT NULL',
    );
    // Positional parameters: binding 28 values by name from a spread object cost as much again as the
    // statement's own work (measured, bench part 1); the order is INSERT_COLUMNS'.
    this.insertTx = db.transaction((job: NewJob, quota: Quota, now: number) => this.insertChecked(job, quota, now));
    // Each insert of a group in its own savepoint (a nested transaction): one that fails leaves the others.
    this.groupTx = db.transaction((group: readonly { job: NewJob; quota: Quota; now: number }[]) =>
      group.map(({ job, quota, now }): { result: InsertResult } | { error: unknown } => {
        try {
          return { result: this.insertTx(job, quota, now) };
        } catch (error) {
          return { error };
        }
      }),
    );
    this.insertStmt = db.prepare<unknown[]>(
      `INSERT INTO jobs (${INSERT_COLUMNS.join(', ')}) VALUES (${INSERT_COLUMNS.map(() => '?').join(', ')})`,
    );
    this.countActive = db.prepare<[string | null, string], { n: number }>(
      `SELECT count(*) AS n FROM jobs WHERE guild_id IS ? AND user_id = ? AND status IN (${sqlList(statusesIn('holdsSlot'))})`,
    );
    this.countSince = db.prepare<[string | null, string, number], { n: number }>(
      `SELECT count(*) AS n FROM jobs WHERE guild_id IS ? AND user_id = ? AND created_at >= ?
         AND status IN (${sqlList(statusesIn('countsToday'))})`,
    );
    this.guildSince = db.prepare<[string, number], { n: number; credits: number }>(
      `SELECT count(*) AS n, coalesce(sum(cost), 0) AS credits FROM jobs
         WHERE guild_id = ? AND created_at >= ? AND status IN (${sqlList(statusesIn('countsToday'))})`,
    );
    this.dueStmt = db.prepare<[number, number], JobRow>(
      `SELECT * FROM jobs WHERE status IN (${sqlList(statusesIn('scheduled'))}) AND next_run_at <= ?${own} ORDER BY next_run_at LIMIT ?`,
    );
    // With a shard filter, min() would read every scheduled row; walking the
    // jobs_due index in order stops at the first one this shard owns.
    this.nextDueStmt = db.prepare<[], { t: number | null }>(
      own
        ? `SELECT next_run_at AS t FROM jobs WHERE status IN (${sqlList(statusesIn('scheduled'))})
             AND next_run_at IS NOT NULL${own} ORDER BY next_run_at LIMIT 1`
        : `SELECT min(next_run_at) AS t FROM jobs WHERE status IN (${sqlList(statusesIn('scheduled'))})`,
    );
    this.withStatusStmt = db.prepare<[JobStatus], JobRow>(`SELECT * FROM jobs WHERE status = ?${own} ORDER BY id`);
    // Rows as arrays (id, guild_id, user_id, next_run_at, mine): a line of thousands is read every few
    // seconds, and objects per row cost as much again as the read (measured at 3,200 rows: 5 vs 3 ms).
    this.lineStmt = db
      .prepare<[number, number], [number, string | null, string, number | null, number]>(
        // INDEXED BY: the line's covering index, even where the planner would pick the table (all in line).
        `SELECT id, guild_id, user_id, next_run_at, (1${own}) AS mine FROM jobs INDEXED BY jobs_line
           WHERE status IN (${sqlList(statusesIn('inLine'))}) AND id > ? ORDER BY id LIMIT ?`,
      )
      .raw(true);
    this.mineInLineStmt = db.prepare<[], { n: number }>(
      `SELECT EXISTS (SELECT 1 FROM jobs WHERE status IN (${sqlList(statusesIn('inLine'))})
         AND next_run_at IS NOT NULL${own}) AS n`,
    );
    this.slotsInUseStmt = db.prepare<[], { n: number }>(
      `SELECT count(*) AS n FROM jobs WHERE status IN (${sqlList(statusesIn('usesCapacity'))})`,
    );
    this.slotsStmt = db.prepare<[], { guild_id: string | null; user_id: string; n: number }>(
      `SELECT guild_id, user_id, count(*) AS n FROM jobs WHERE status IN (${sqlList(statusesIn('usesCapacity'))})
       GROUP BY guild_id, user_id`,
    );
    this.recentStmt = db.prepare<[string, number, number], JobRow>(
      'SELECT * FROM jobs WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?',
    );
    this.countUserStmt = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM jobs WHERE user_id = ?');
    this.completedSearchStmt = db.prepare<[{ userId: string; q: string; limit: number }], JobRow>(
      `SELECT * FROM jobs WHERE user_id = @userId AND upstream_id IS NOT NULL
         AND status IN (${sqlList(statusesIn('hasVideo'))})
         AND (@q = '' OR instr(lower(prompt), @q) > 0 OR instr(lower(upstream_id), @q) > 0)
       ORDER BY created_at DESC, id DESC LIMIT @limit`,
    );
    const countsToday = `status IN (${sqlList(statusesIn('countsToday'))})`;
    this.guildUsageStmt = db.prepare<
      [{ since: number; guildId: string }],
      { started: number; active: number; credits: number }
    >(
      `SELECT coalesce(sum(created_at >= @since AND ${countsToday}), 0) AS started,
              coalesce(sum(status IN (${sqlList(statusesIn('holdsSlot'))})), 0) AS active,
              coalesce(sum(CASE WHEN created_at >= @since AND ${countsToday} THEN cost END), 0) AS credits
         FROM jobs WHERE guild_id = @guildId`,
    );
  }

  /**
   * Inserts a new job (in its initial status) if the member and the server are within their limits. The count
   * and the insert share one transaction: SQLite serialises writers, so twenty
   * simultaneous commands can never all see "one slot left".
   */
  insertWithinQuota(job: NewJob, quota: Quota, now: number): InsertResult {
    return this.insertTx.immediate(job, quota, now);
  }

  /**
   * insertWithinQuota, committed together with the other inserts asked for
   * in the same turn of the event loop (a group commit): in a burst of
   * commands, one immediate transaction and one commit for all of them,
   * instead of one each — the commit (the WAL write, and now and then a
   * checkpoint's fsync) is most of an insert's cost. Each insert is checked
   * and written in its own savepoint, in the order asked, so it counts the
   * ones before it: the limits hold exactly as with one transaction each.
   *
   * The first insert of a turn commits at once, on its own: a command that
   * arrives alone (a steady stream) then goes on to its acknowledgement in
   * the same turn, instead of waiting for the check phase behind whatever
   * I/O the loop picks up first. The inserts after it in the same turn (a
   * burst) are grouped, and a group commits as soon as it holds
   * GROUP_MAX_INSERTS: one turn's poll phase can read a whole burst off the
   * gateway socket (libuv reads a stream up to 32 times per wakeup), and a
   * group left to the check phase held the first callbacks of half a burst
   * of 200 until the last of its commands had been read (bench part 1).
   */
  insertWithinQuotaGrouped(job: NewJob, quota: Quota, now: number): Promise<InsertResult> {
    if (!this.insertedThisTurn) {
      this.insertedThisTurn = true;
      setImmediate(() => (this.insertedThisTurn = false));
      try {
        return Promise.resolve(this.insertWithinQuota(job, quota, now));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return new Promise((resolve, reject) => {
      if (this.group.length === 0) setImmediate(() => this.commitGroup());
      this.group.push({ job, quota, now, resolve, reject });
      if (this.group.length >= GROUP_MAX_INSERTS) this.commitGroup();
    });
  }

  private commitGroup(): void {
    // Already committed by reaching GROUP_MAX_INSERTS, and nothing asked for since.
    if (this.group.length === 0) return;
    const group = this.group;
    this.group = [];
    let outcomes;
    try {
      outcomes = this.groupTx.immediate(group);
    } catch (err) {
      for (const entry of group) entry.reject(err);
      return;
    }
    outcomes.forEach((outcome, i) => {
      const entry = group[i]!;
      if ('result' in outcome) entry.resolve(outcome.result);
      else entry.reject(outcome.error);
    });
  }

  private insertChecked(job: NewJob, quota: Quota, now: number): InsertResult {
    const existing = this.byInteraction.get(job.interactionId);
    if (existing) return { ok: false, reason: 'duplicate', job: toJob(existing) };
    if (quota.maxActive > 0) {
      const active = this.countActive.get(job.guildId, job.userId)?.n ?? 0;
      if (active >= quota.maxActive) return { ok: false, reason: 'max_active', active };
    }
    if (quota.dailyLimit > 0) {
      const today = this.countSince.get(job.guildId, job.userId, quota.dayStart)?.n ?? 0;
      if (today >= quota.dailyLimit) return { ok: false, reason: 'daily_limit', today };
    }
    const cost = job.cost ?? 0;
    if (job.guildId !== null && (quota.serverDailyLimit || quota.serverDailyCredits)) {
      // The server's whole day, in the same immediate transaction: twenty
      // members at once cannot all take the last slot or the last credits.
      const day = this.guildSince.get(job.guildId, quota.dayStart) ?? { n: 0, credits: 0 };
      if (quota.serverDailyLimit && day.n >= quota.serverDailyLimit)
        return { ok: false, reason: 'server_daily_limit', today: day.n };
      if (quota.serverDailyCredits && day.credits + cost > quota.serverDailyCredits)
        return { ok: false, reason: 'server_daily_credits', used: day.credits, cost };
    }
    // The row is what was just written (every other column at its default): no read back.
    const inserted = insertedJob(job, cost, now);
    inserted.id = Number(this.insertStmt.run(insertValues(inserted)).lastInsertRowid);
    return { ok: true, job: inserted };
  }

  get(id: number): Job | undefined {
    const r = this.byId.get(id);
    return r && toJob(r);
  }

  getByInteraction(interactionId: string): Job | undefined {
    const r = this.byInteraction.get(interactionId);
    return r && toJob(r);
  }

  getByUpstreamId(upstreamId: string): Job | undefined {
    const r = this.byUpstream.get(upstreamId);
    return r && toJob(r);
  }

  /**
   * Compare-and-swap: moves the job to `to` only if it is still in one of
   * `from`. Returns the updated job, or undefined when another pass got there
   * first — which is how a video can never be delivered twice.
   */
  transition(
    id: number,
    from: JobStatus | readonly JobStatus[],
    to: JobStatus,
    patch: JobPatch,
    now: number,
  ): Job | undefined {
    const fromList = typeof from === 'string' ? [from] : from;
    const changed = this.runUpdate(id, patch, now, to, fromList);
    return changed ? this.get(id) : undefined;
  }

  /** Updates fields without changing the status, only while the status is one of `whileIn`. */
  patch(id: number, patch: JobPatch, now: number, whileIn?: readonly JobStatus[]): boolean {
    return this.runUpdate(id, patch, now, undefined, whileIn);
  }

  private runUpdate(id: number, patch: JobPatch, now: number, to?: JobStatus, from?: readonly JobStatus[]): boolean {
    const keys = (Object.keys(patch) as (keyof JobPatch)[]).filter((k) => patch[k] !== undefined).sort();
    const sets = keys.map((k) => `${PATCH_COLUMNS[k]} = @${k}`);
    if (to) sets.push('status = @status');
    sets.push('updated_at = @now');
    const where = from ? ` AND status IN (${from.map((_, i) => `@from${i}`).join(', ')})` : '';
    const sql = `UPDATE jobs SET ${sets.join(', ')} WHERE id = @id${where}`;
    let stmt = this.updateCache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.updateCache.set(sql, stmt);
    }
    const params: Record<string, unknown> = { id, now };
    for (const k of keys) params[k] = sqlValue(patch[k]);
    if (to) params.status = to;
    from?.forEach((s, i) => (params[`from${i}`] = s));
    return stmt.run(params).changes === 1;
  }

  /** Jobs of this shard whose next step is due, earliest first. */
  due(now: number, limit: number): Job[] {
    return this.dueStmt.all(now, limit).map(toJob);
  }

  /** When the earliest active job of this shard is due, or null when there is none. */
  nextDueAt(): number | null {
    return this.nextDueStmt.get()?.t ?? null;
  }

  /**
   * The line for upstream capacity: the jobs ready to send (their next_run_at
   * says since when; still-preparing ones are left out), and who holds the
   * provider's running slots — of every shard, since the provider's cap and
   * the fair order are the key's, not a process's. `mine`: the ready jobs
   * this process owns (the only ones it may send).
   */
  line(): LineRead {
    const read: LineRead = { waiting: [], holders: [], mine: new Set() };
    this.linePage(read, 0, -1);
    read.holders = this.slotsHeld();
    return read;
  }

  /**
   * Adds to `into` the next `limit` jobs of the line after job `afterId`, by
   * id (`limit` -1: all). Returns the id to read on from, or undefined when
   * the line was read to its end. A long line read in pages, with the event
   * loop running between them, is one a command never waits behind.
   */
  linePage(into: LineRead, afterId: number, limit: number): number | undefined {
    const rows = this.lineStmt.all(afterId, limit);
    for (const [id, guildId, userId, nextRunAt, mine] of rows) {
      if (nextRunAt === null) continue; // still preparing
      into.waiting.push({ id, guildId, userId });
      if (mine === 1) into.mine.add(id);
    }
    return limit >= 0 && rows.length === limit ? rows[rows.length - 1]![0] : undefined;
  }

  /** Who holds the provider's running slots, over every shard (`line().holders`). */
  slotsHeld(): SlotHolder[] {
    return this.slotsStmt.all().map((r) => ({ guildId: r.guild_id, userId: r.user_id, slots: r.n }));
  }

  /** The provider's running slots in use, over every shard: what `line().holders` add up to, without the line. */
  slotsInUse(): number {
    return this.slotsInUseStmt.get()!.n;
  }

  /** Whether this process has a job ready in line (`line().mine` not empty), without reading the line. */
  hasMineInLine(): boolean {
    return this.mineInLineStmt.get()!.n === 1;
  }

  /** Runs `fn` in one immediate transaction: a read-then-claim no other process can interleave with. */
  exclusive<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Every job of this shard in one status, oldest first (e.g. the submissions a stopped process left behind). */
  withStatus(status: JobStatus): Job[] {
    return this.withStatusStmt.all(status).map(toJob);
  }

  recentForUser(userId: string, limit: number, offset = 0): Job[] {
    return this.recentStmt.all(userId, limit, offset).map(toJob);
  }

  countForUser(userId: string): number {
    return this.countUserStmt.get(userId)?.n ?? 0;
  }

  /** Stored reference images of jobs that ended before `cutoff`. */
  endedImagesBefore(cutoff: number): { id: number; imagePath: string }[] {
    return this.endedImagesStmt.all(cutoff).map((r) => ({ id: r.id, imagePath: r.image_path }));
  }

  /** Every stored reference image a job still refers to. */
  imagePaths(): Set<string> {
    return new Set(this.imagePathsStmt.all().map((r) => r.image_path));
  }

  /** A member's finished videos matching `query` (prompt or task id), newest first. */
  searchCompleted(userId: string, query: string, limit: number): Job[] {
    const q = query.trim().toLowerCase();
    return this.completedSearchStmt.all({ userId, q, limit }).map(toJob);
  }

  /** A server's usage for /sora-config show: jobs started and credits spent since `since`, and unfinished now. */
  guildUsage(guildId: string, since: number): { started: number; active: number; credits: number } {
    return this.guildUsageStmt.get({ since, guildId }) ?? { started: 0, active: 0, credits: 0 };
  }
}
