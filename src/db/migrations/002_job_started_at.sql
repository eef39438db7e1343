-- The first time a job was seen running upstream (in_progress, or any
-- progress), and its progress then. The time-left estimate is the rate of
-- progress since that reading, so time spent in the provider's queue, and a
-- start noticed only at the next poll, do not skew it.
ALTER TABLE jobs ADD COLUMN started_at INTEGER;
ALTER TABLE jobs ADD COLUMN started_progress INTEGER;
