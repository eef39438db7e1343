-- Jobs: one row per /sora request, keyed by the Discord interaction id so a
-- re-delivered interaction can never create a second job. The status column
-- moves through the job state machine; the poller and delivery act only
-- on what the row says, so a restart resumes exactly where it stopped.
CREATE TABLE jobs (
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
  -- Settings the server's locks forced over the member's own choice, shown in the reply.
  overrides              TEXT,

  status                 TEXT    NOT NULL CHECK (status IN (
                           'submitting', 'submit_failed', 'queued', 'in_progress',
                           'completed', 'delivering', 'delivered', 'delivery_failed',
                           'failed', 'timed_out')),
  upstream_id            TEXT UNIQUE,
  progress               INTEGER NOT NULL DEFAULT 0,
  progress_changed_at    INTEGER,
  video_url              TEXT,
  error_code             TEXT,
  error_message          TEXT,

  created_at             INTEGER NOT NULL,
  submitted_at           INTEGER,
  finished_at            INTEGER,
  next_run_at            INTEGER,
  poll_count             INTEGER NOT NULL DEFAULT 0,
  error_streak           INTEGER NOT NULL DEFAULT 0,
  shown_key              TEXT,
  shown_at               INTEGER,
  delivery_attempts      INTEGER NOT NULL DEFAULT 0,
  delivery_claimed_at    INTEGER,
  delivered_message_id   TEXT,
  delivery_mode          TEXT CHECK (delivery_mode IN ('attachment', 'link')),
  updated_at             INTEGER NOT NULL
);

-- The poller's only query: what is due next among unfinished jobs.
CREATE INDEX jobs_due ON jobs (next_run_at)
  WHERE status IN ('queued', 'in_progress', 'completed', 'delivering');
-- Limits and history: a member's jobs, newest first.
CREATE INDEX jobs_user ON jobs (user_id, created_at DESC);
CREATE INDEX jobs_guild_user ON jobs (guild_id, user_id, created_at);

-- Per-server settings. NULL means "use the bot's default from the environment".
CREATE TABLE guild_settings (
  guild_id          TEXT    PRIMARY KEY,
  private           INTEGER,
  watermark         INTEGER,
  lock_private      INTEGER NOT NULL DEFAULT 0,
  lock_watermark    INTEGER NOT NULL DEFAULT 0,
  daily_limit       INTEGER,
  max_active        INTEGER,
  allowed_models    TEXT,
  allowed_channels  TEXT,
  updated_at        INTEGER NOT NULL,
  updated_by        TEXT    NOT NULL
);

-- Who changed what, for /sora-config show.
CREATE TABLE guild_settings_audit (
  id          INTEGER PRIMARY KEY,
  guild_id    TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  changes     TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX guild_settings_audit_guild ON guild_settings_audit (guild_id, id DESC);

-- Small key/value facts the bot keeps about itself (the registered commands' hash).
CREATE TABLE bot_state (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);
