-- Controls a community needs (issue #17): a server-wide budget, role rules,
-- member blocks, a prompt filter and a moderator log channel.

-- Server budget per UTC day (NULL: none), cost overrides (JSON, NULL: the
-- bot's cost table), and the channel the moderator log goes to (NULL: off).
ALTER TABLE guild_settings ADD COLUMN server_daily_limit INTEGER;
ALTER TABLE guild_settings ADD COLUMN server_daily_credits INTEGER;
ALTER TABLE guild_settings ADD COLUMN costs TEXT;
ALTER TABLE guild_settings ADD COLUMN log_channel TEXT;

-- What a job cost in credits when it was admitted: a later change of the cost
-- table must not rewrite what today's budget already spent.
ALTER TABLE jobs ADD COLUMN cost INTEGER NOT NULL DEFAULT 0;
-- The server budget counts a whole server's jobs of the day in the insert's
-- transaction; jobs_guild_user cannot serve that range without a user id.
CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at);

-- Per-role rules, by role id. A role the server deleted simply never matches:
-- Discord removes it from every member, and member role ids come from the
-- interaction. access: 'allow' (the role may use /sora; once any role is
-- allowed, only members with an allowed role may), 'deny' (members with the
-- role may not, whatever else they hold), or NULL (overrides only).
CREATE TABLE guild_role_rules (
  guild_id        TEXT    NOT NULL,
  role_id         TEXT    NOT NULL,
  access          TEXT    CHECK (access IN ('allow', 'deny')),
  daily_limit     INTEGER,
  max_active      INTEGER,
  allowed_models  TEXT,
  updated_at      INTEGER NOT NULL,
  updated_by      TEXT    NOT NULL,
  PRIMARY KEY (guild_id, role_id)
);

-- Members a moderator blocked from /sora; the reason is shown to them privately.
CREATE TABLE guild_blocks (
  guild_id    TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  reason      TEXT,
  created_at  INTEGER NOT NULL,
  created_by  TEXT    NOT NULL,
  PRIMARY KEY (guild_id, user_id)
);

-- Blocked words and phrases as the moderator typed them; `term_key` is the
-- normalised form (with its wildcards) that makes two spellings one term.
CREATE TABLE guild_filter_terms (
  guild_id    TEXT    NOT NULL,
  term_key    TEXT    NOT NULL,
  term        TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  created_by  TEXT    NOT NULL,
  PRIMARY KEY (guild_id, term_key)
);

-- Requests refused before anything was sent upstream (blocked member, role,
-- prompt filter, server budget), for /sora-config show and export. Never the
-- prompt: only which rule refused it.
CREATE TABLE guild_refusals (
  id          INTEGER PRIMARY KEY,
  guild_id    TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  reason      TEXT    NOT NULL,
  detail      TEXT,
  created_at  INTEGER NOT NULL
);
CREATE INDEX guild_refusals_guild ON guild_refusals (guild_id, created_at);
