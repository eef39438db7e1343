-- How each job left polling, for the poll schedule's learned prior
-- (src/services/poll-prior.ts, read by src/db/job-history.ts). The row would
-- forget it otherwise: at completion progress becomes 100, and finished_at of
-- a completed job is when its delivery finished, not when upstream reported
-- the end. The lifecycle writes these with the transition that ends the
-- polling (src/jobs/lifecycle.ts), whichever service applies it.
--
--   last_polled_at    the latest status check (or the create answer)
--   ended_at          the poll that saw the end, or when the job timed out
--   end_progress      the last progress seen before it
--   end_progress_at   when that value was first seen
--   end_prev_poll_at  the check before the one that saw the end: the end lies after it
ALTER TABLE jobs ADD COLUMN last_polled_at INTEGER;
ALTER TABLE jobs ADD COLUMN ended_at INTEGER;
ALTER TABLE jobs ADD COLUMN end_progress INTEGER;
ALTER TABLE jobs ADD COLUMN end_progress_at INTEGER;
ALTER TABLE jobs ADD COLUMN end_prev_poll_at INTEGER;

-- The prior is rebuilt at start from the most recent ends of each group.
CREATE INDEX jobs_ended ON jobs (model, seconds, size, ended_at) WHERE ended_at IS NOT NULL;
