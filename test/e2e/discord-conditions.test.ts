import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startWorld, type World } from '../../emulators/world.js';
import { command, creates, embedText, jobRequests, MINUTE, sora, videoMessages, world } from './helpers.js';

/**
 * Discord as it really is on the paths where a paid video gets lost: a slow
 * uplink, messages older than an hour, boost tiers against Nitro, a global
 * rate limit, archived threads and missing permissions — each modelled by the
 * emulator (emulators/discord/README.md) and each failing on a bot that
 * ignores it.
 */
let w: World;
afterEach(async () => {
  await w?.close();
});

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const status = (id: number) => w.app!.jobs.get(id)?.status;

/** Lets the bot work in real time (an upload on a slow link) while its simulated clock stands still. */
async function untilReal(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in real time');
    if (w.app!.idle()) await w.manualClock!.advance(1_000);
    await sleep(20);
  }
}

/** When the reply of an interaction was first edited (the job shown), on the emulator's clock. */
/** When the reply first showed the job: the callback's own message, or the edit that completed a deferral. */
function firstShown(h: { originalMessageId: string | null }): number | undefined {
  if (!h.originalMessageId) return undefined;
  return w.discord.timeline(w.channelId).find((e) => e.messageId === h.originalMessageId && !e.loading)?.at;
}

describe('Discord as it really is (end to end)', () => {
  it('a 25 MiB video uploaded at 1 MiB/s is delivered exactly once', { timeout: 120_000 }, async () => {
    w = await world();
    w.discord.setGuildPremiumTier(w.guildId, 2); // 50 MiB per file on the channel route
    w.discord.setUploadBandwidth(MiB, w.channelId);
    w.tuzi.injectFault({ kind: 'oversized', route: ['video', 'content'], bytes: 25 * MiB, times: Infinity });
    await sora(w, w.users.alice, { prompt: 'a long shot over a home uplink' });
    // discord.js's own timeout (15 s for the whole request) would cut this upload; it takes ~25 s of real time,
    // while the simulated clock moves only between the bot's steps.
    await untilReal(() => status(1) === 'delivered', 100_000);
    const job = w.app!.jobs.get(1)!;
    const posts = w.discord.messages(w.channelId).filter((m) => m.attachments.some((a) => a.size === 25 * MiB));
    expect(posts).toHaveLength(1);
    expect(job.deliveredMessageId).toBe(posts[0]!.id);
    expect(w.discord.requests.filter((r) => r.route === 'channel_create' && r.aborted)).toHaveLength(0);
  });

  it('jobs past the hour keep showing progress on a fresh message; the others are polled and posted on time', async () => {
    const clock = new ManualClock(Date.now());
    // Discord's cap on edits of hour-old messages, its window on the simulated clock: a bot that waits on it
    // in a job step waits for as long as the clock stands still.
    w = await world({
      clock,
      env: { TUZI_MAX_CONCURRENCY: '2', JOB_MAX_WAIT_MINUTES: '180', DEFAULT_MAX_ACTIVE: '0' },
      discord: { oldMessageEdits: { clock } },
    });
    w.tuzi.setJobPlan((job) => ({ durationMs: job.prompt.startsWith('long') ? 100 * MINUTE : 2 * MINUTE }));
    await sora(w, w.users.alice, { prompt: 'long one' });
    await sora(w, w.users.li, { prompt: 'long two' });
    const firstReplies = [w.app!.jobs.get(1)!.messageId, w.app!.jobs.get(2)!.messageId];
    await w.advance(65 * MINUTE, 5_000);
    const members = Array.from(
      { length: 8 },
      (_, i) => w.discord.createUser({ username: `s${i}`, guildIds: [w.guildId] }).id,
    );
    const started = clock.now();
    for (const [i, m] of members.entries()) await sora(w, m, { prompt: `short ${i}` });
    await w.advanceUntil(() => [3, 4, 5, 6, 7, 8, 9, 10].every((id) => status(id) === 'delivered'), 10 * MINUTE, 5_000);
    // On time: a 2-minute job delivered within its own length plus the polling interval.
    for (let id = 3; id <= 10; id++)
      expect(w.app!.jobs.get(id)!.finishedAt! - started).toBeLessThan(2 * MINUTE + 2 * MINUTE);

    for (const [i, id] of [1, 2].entries()) {
      const job = w.app!.jobs.get(id)!;
      expect(job.status).toBe('in_progress');
      // The progress moved to a fresh message before the first reply turned an hour old, and it is up to date.
      expect(job.messageId).not.toBe(firstReplies[i]);
      const current = w.discord.messages(w.channelId).find((m) => m.id === job.messageId)!;
      expect(embedText(current)).toContain(`${job.progress}%`);
      const old = w.discord.messages(w.channelId).find((m) => m.id === firstReplies[i])!;
      expect(embedText(old)).toContain(job.messageId!);
    }
    await w.advanceUntil(() => status(1) === 'delivered' && status(2) === 'delivered', 60 * MINUTE, 10_000);
    expect(videoMessages(w)).toHaveLength(10);
    expect(w.discord.stats().oldMessageEditsRefused).toBe(0);
  });

  it('a job stalled at one percentage still moves its progress before the reply turns an hour old', async () => {
    const clock = new ManualClock(Date.now());
    w = await world({
      clock,
      env: { JOB_MAX_WAIT_MINUTES: '180' },
      discord: { oldMessageEdits: { clock } },
    });
    // 90 % within the first 30 minutes, then nothing new to show until the end: no change falls due at 50 minutes.
    w.tuzi.setJobPlan(() => ({ durationMs: 100 * MINUTE, curve: 'stall-90' }));
    await sora(w, w.users.alice, { prompt: 'stuck at ninety' });
    const firstReply = w.app!.jobs.get(1)!.messageId;
    await w.advance(61 * MINUTE, 5_000);
    const job = w.app!.jobs.get(1)!;
    expect(job.progress).toBe(90);
    expect(job.messageId).not.toBe(firstReply);
    const old = w.discord.messages(w.channelId).find((m) => m.id === firstReply)!;
    expect(embedText(old)).toContain(job.messageId!);
    await w.advanceUntil(() => status(1) === 'delivered', 60 * MINUTE, 10_000);
    // The fresh message was young enough to show the outcome; nothing was left showing 90 %.
    const current = w.discord.messages(w.channelId).find((m) => m.id === job.messageId)!;
    expect(embedText(current)).not.toContain('90%');
    expect(w.discord.stats().oldMessageEditsRefused).toBe(0);
  });

  it('a Nitro member in an unboosted server gets a 12 MiB video, and no upload is ever refused with 413', async () => {
    w = await world();
    const nitro = w.discord.createUser({ username: 'nitro', premiumType: 2, guildIds: [w.guildId] }).id;
    w.tuzi.injectFault({ kind: 'oversized', route: ['video', 'content'], bytes: 12 * MiB, times: Infinity });
    await sora(w, nitro, { prompt: 'bigger than the server allows' });
    await w.advanceUntil(() => status(1) === 'delivered', 10 * MINUTE);
    expect(w.discord.requests.filter((r) => r.status === 413)).toHaveLength(0);
    const posted = w.discord.messages(w.channelId).find((m) => m.id === w.app!.jobs.get(1)!.deliveredMessageId)!;
    expect(posted.attachments.map((a) => a.size)).toEqual([12 * MiB]);
    expect(posted.content).toContain(`<@${nitro}>`);
  });

  it('during a 5 s global rate limit, 50 new /sora are all acknowledged within 3 s', { timeout: 60_000 }, async () => {
    // Real time: acknowledgements are measured against Discord's 3 seconds as they happen.
    w = await startWorld({ env: { DEFAULT_MAX_ACTIVE: '0' }, tuzi: { jobDurationMs: 60_000 } });
    // The moderator log posts through the bot's channel route: during the window, those posts meet global 429s.
    const logChannel = w.discord.createChannel(w.guildId, { name: 'mod-log' }).id;
    await command(w, w.users.mod, 'sora-config', { subcommand: 'set', options: { log_channel: logChannel } });
    // The settings change goes to the log a moment later; the window opens just before, so the bot meets it then.
    w.discord.forceGlobalRateLimit(5_000);
    await w.discord.waitFor(() => (w.discord.stats().globalRateLimited > 0 ? true : undefined), {
      timeoutMs: 5_000,
      what: 'the log post meeting the global limit',
    });
    const handles = Array.from({ length: 50 }, (_, i) =>
      w.discord.invokeSlashCommand({
        guildId: w.guildId,
        channelId: w.channelId,
        userId: w.discord.createUser({ username: `g${i}`, guildIds: [w.guildId] }).id,
        name: 'sora',
        options: { prompt: `during the limit ${i}` },
      }),
    );
    const acks = await Promise.all(handles.map((h) => h.acknowledged(10_000)));
    expect(w.discord.stats().globalRateLimited).toBeGreaterThan(0);
    expect(handles.filter((h) => h.callbackErrors.length > 0)).toHaveLength(0);
    expect(Math.max(...acks.map((a) => a.afterMs))).toBeLessThan(3_000);
    // discord.js sends callbacks outside its global queue, but not the interaction's webhook edits: each member's
    // reply shows their job within the same 3 s, not when the bot's own limit ends.
    await w.discord.waitFor(() => (handles.every((h) => firstShown(h) !== undefined) ? true : undefined), {
      timeoutMs: 10_000,
      what: 'every first reply',
    });
    expect(Math.max(...handles.map((h) => firstShown(h)! - h.createdAt))).toBeLessThan(3_000);
  });

  it('a job that fails in an archived thread is told to the member there', async () => {
    // No progress edit between the archiving and the end: the outcome itself meets the archived thread.
    w = await world({ env: { PROGRESS_EDIT_SECONDS: '600' } });
    const thread = w.discord.createThread(w.channelId, { name: 'ideas' });
    w.tuzi.setJobPlan({ failure: { atProgress: 80, code: 'content_policy_violation', message: 'flagged' } });
    const h = w.discord.invokeSlashCommand({
      guildId: w.guildId,
      channelId: thread.id,
      userId: w.users.alice,
      name: 'sora',
      options: { prompt: 'in a thread' },
    });
    await h.acknowledged();
    await w.settle();
    await w.advance(30_000);
    w.discord.updateThread(thread.id, { archived: true });
    await w.advanceUntil(() => status(1) === 'failed', 10 * MINUTE);
    await w.advance(MINUTE);
    const told = w.discord
      .messages(thread.id)
      .find((m) => m.content.includes(`<@${w.users.alice}>`) && embedText(m).includes('flagged'));
    expect(told).toBeDefined();
    expect(w.discord.threadState(thread.id).archived).toBe(false);
  });

  it('a channel where the bot cannot attach files refuses /sora privately, with zero upstream requests', async () => {
    w = await world();
    const guild = w.discord.createGuild({ name: 'Strict' });
    const channel = w.discord.createChannel(guild.id, { name: 'no-files' }).id;
    const member = w.discord.createUser({ username: 'member', guildIds: [guild.id] }).id;
    w.discord.setPermissionOverwrite(channel, { id: guild.botRoleId, type: 'role', deny: String(1n << 15n) });
    const h = w.discord.invokeSlashCommand({
      guildId: guild.id,
      channelId: channel,
      userId: member,
      name: 'sora',
      options: { prompt: 'here please' },
    });
    await h.acknowledged();
    await w.settle();
    const refusal = w.discord.messages(channel, { includeEphemeral: true }).find((m) => m.id === h.originalMessageId)!;
    expect(refusal.flags).toBe(64);
    expect(refusal.content).toContain('Attach Files');
    expect(jobRequests(w)).toHaveLength(0);
    expect(creates(w)).toHaveLength(0);
  });
});
