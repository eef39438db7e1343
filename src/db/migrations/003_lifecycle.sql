-- The job lifecycle moved into code (src/jobs/lifecycle.ts): its table of
-- statuses is the one definition. The status CHECK of 001 and the jobs_due
-- partial index repeated that list in SQL; both are now derived from the table
-- at every start (src/db/derived-schema.ts: a trigger that refuses unknown
-- statuses, and the index over exactly the scheduled statuses), so a new status
-- is a change in one place. SQLite cannot drop a CHECK in place, hence the copy.
--
-- Two new facts per job:
--   deadline_at        when the job times out, fixed at submission, so a
--                      timed-out job carries its own limit and a config change
--                      never moves the deadline of a job already running;
--   post_attempted_at  the first time a post of the video was sent to Discord:
--                      from then on, every later attempt looks in the channel
--                      for that post before posting again.
CREATE TABLE jobs_new (
  id                     INTEGER PRIMARY KEY,
  interaction_id         TEXT    NOT NULL UNIQUE,
  application_id         TEXT    NOT NULL,
  guild_id               TEXT,
  channel_id             TEXT    NOT NULL,
  user_id                TEXT    NOT NULL,
  locale                 TEXT    NOT NULL,
  interaction_token      TEXT,
  token_expires_at       INTEGER NOT NULL,
  message_id             TEXT,
  message_gone           INTEGER NOT NULL DEFAULT 0,
  attachment_size_limit  INTEGER NOT NULL,

  prompt                 TEXT    NOT NULL,
  model                  TEXT    NOT NULL,
  seconds                INTEGER NOT NULL,
  size                   TEXT    NOT NULL,
  watermark              INTEGER NOT NULL,
  private                INTEGER NOT NULL,
  image_path             TEXT,
  image_name             TEXT,
  image_type             TEXT,
  image_url              TEXT,
  character_url          TEXT,
  character_timestamps   TEXT,
  character_from_task    TEXT,
  character_create       INTEGER,
  overrides              TEXT,

  status                 TEXT    NOT NULL,
  upstream_id            TEXT UNIQUE,
  progress               INTEGER NOT NULL DEFAULT 0,
  progress_changed_at    INTEGER,
  started_at             INTEGER,
  started_progress       INTEGER,
  video_url              TEXT,
  error_code             TEXT,
  error_message          TEXT,

  created_at             INTEGER NOT NULL,
  submitted_at           INTEGER,
  deadline_at            INTEGER,
  finished_at            INTEGER,
  next_run_at            INTEGER,
  poll_count             INTEGER NOT NULL DEFAULT 0,
  error_streak           INTEGER NOT NULL DEFAULT 0,
  shown_key              TEXT,
  shown_at               INTEGER,
  delivery_attempts      INTEGER NOT NULL DEFAULT 0,
  delivery_claimed_at    INTEGER,
  post_attempted_at      INTEGER,
  delivered_message_id   TEXT,
  delivery_mode          TEXT CHECK (delivery_mode IN ('attachment', 'link')),
  updated_at             INTEGER NOT NULL
);

INSERT INTO jobs_new (
  id, interaction_id, application_id, guild_id, channel_id, user_id, locale, interaction_token, token_expires_at,
  message_id, message_gone, attachment_size_limit, prompt, model, seconds, size, watermark, private, image_path,
  image_name, image_type, image_url, character_url, character_timestamps, character_from_task, character_create,
  overrides, status, upstream_id, progress, progress_changed_at, started_at, started_progress, video_url, error_code,
  error_message, created_at, submitted_at, finished_at, next_run_at, poll_count, error_streak, shown_key, shown_at,
  delivery_attempts, delivery_claimed_at, delivered_message_id, delivery_mode, updated_at,
  -- A delivery caught mid-way by this upgrade may have posted already: make the next attempt look first.
  post_attempted_at)
SELECT
  id, interaction_id, application_id, guild_id, channel_id, user_id, locale, interaction_token, token_expires_at,
  message_id, message_gone, attachment_size_limit, prompt, model, seconds, size, watermark, private, image_path,
  image_name, image_type, image_url, character_url, character_timestamps, character_from_task, character_create,
  overrides, status, upstream_id, progress, progress_changed_at, started_at, started_progress, video_url, error_code,
  error_message, created_at, submitted_at, finished_at, next_run_at, poll_count, error_streak, shown_key, shown_at,
  delivery_attempts, delivery_claimed_at, delivered_message_id, delivery_mode, updated_at,
  CASE WHEN delivery_attempts > 0 AND status IN ('completed', 'delivering') THEN delivery_claimed_at END
FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_user ON jobs (user_id, created_at DESC);
CREATE INDEX jobs_guild_user ON jobs (guild_id, user_id, created_at);
