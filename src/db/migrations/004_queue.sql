-- The line for upstream capacity (issue #15). A job now starts `waiting`; its
-- next_run_at, unused before it is sent, is when it became ready to send (NULL
-- while its reference image is still being fetched), so the dispatcher never
-- sends a half-prepared job. The line's index and the index of jobs holding an
-- upstream slot are derived from the lifecycle table (derived-schema.ts).
--
-- cancelled_by: who cancelled the job (the member, or a moderator).
ALTER TABLE jobs ADD COLUMN cancelled_by TEXT;
