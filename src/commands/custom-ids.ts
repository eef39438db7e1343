/**
 * The custom_id protocol: every id the bot puts on a button or a modal is
 * built here, and every id Discord sends back is parsed here. State beyond
 * the ids lives in the database, so components keep working after restarts
 * and on old messages. Discord allows 1–100 characters.
 */
export const customIds = {
  reroll: (jobId: number) => `sora:reroll:${jobId}`,
  character: (jobId: number) => `sora:character:${jobId}`,
  details: (jobId: number) => `sora:details:${jobId}`,
  cancel: (jobId: number) => `sora:cancel:${jobId}`,
  characterModal: (jobId: number) => `sora:charmodal:${jobId}`,
  jobsPage: (userId: string, page: number) => `jobs:page:${userId}:${page}`,
};

export type JobAction = 'reroll' | 'character' | 'details' | 'cancel' | 'charmodal';

export type ParsedCustomId = { kind: JobAction; jobId: number } | { kind: 'jobsPage'; ownerId: string; page: number };

const JOB_ID = /^sora:(reroll|character|details|cancel|charmodal):(\d{1,15})$/;
const JOBS_PAGE = /^jobs:page:(\d{1,20}):(-?\d{1,6})$/;

/** The action a custom_id names, or undefined when it is not one this bot builds (or is malformed). */
export function parseCustomId(id: string): ParsedCustomId | undefined {
  const job = JOB_ID.exec(id);
  if (job) return { kind: job[1] as JobAction, jobId: Number(job[2]) };
  const page = JOBS_PAGE.exec(id);
  if (page) return { kind: 'jobsPage', ownerId: page[1]!, page: Number(page[2]) };
  return undefined;
}
