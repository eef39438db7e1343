-- How each job left polling, for the poll schedule's learned prior
-- (src/services/poll-prior.ts, read by src/db/job-history.ts).
--
-- Needed because the row forgets it otherwise: at completion the worker
-- writes progress = 100 over the last value seen, and finished_at of a
-- completed job is when delivery finished, not when upstream reported the
-- end. A trigger records it at the status change itself, whichever code
-- makes the change, so the services need not remember to.
--
--   ended_at          the poll that saw the end (the transition's updated_at),
--                     or when the job was timed out
--   end_progress      the last progress seen before it
--   end_progress_at   when that value was first seen
--   end_prev_poll_at  the row's previous write, i.e. the poll before: the end
--                     lies after it
ALTER TABLE jobs ADD COLUMN ended_at INTEGER;
ALTER TABLE jobs ADD COLUMN end_progress INTEGER;
ALTER TABLE jobs ADD COLUMN end_progress_at INTEGER;
ALTER TABLE jobs ADD COLUMN end_prev_poll_at INTEGER;

CREATE TRIGGER jobs_poll_end AFTER UPDATE OF status ON jobs
  WHEN OLD.status IN ('queued', 'in_progress') AND NEW.status IN ('completed', 'failed', 'timed_out')
BEGIN
  UPDATE jobs
     SET ended_at = NEW.updated_at,
         end_progress = OLD.progress,
         end_progress_at = OLD.progress_changed_at,
         end_prev_poll_at = OLD.updated_at
   WHERE id = NEW.id;
END;

-- The prior is rebuilt at start from the most recent ends of each group.
CREATE INDEX jobs_ended ON jobs (model, seconds, size, ended_at) WHERE ended_at IS NOT NULL;
