import type { APIMessage } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../emulators/world.js';
import { command, creates, embedText, MINUTE, sora, videoMessages, world } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

/** Two more servers with a channel and `n` members each, besides the world's own. */
function servers(n: number): { guildId: string; channelId: string; members: string[] }[] {
  const own = {
    guildId: w.guildId,
    channelId: w.channelId,
    members: Array.from({ length: n }, (_, i) => w.discord.createUser({ username: `a${i}`, guildIds: [w.guildId] }).id),
  };
  const more = [1, 2].map((k) => {
    const guild = w.discord.createGuild({ name: `Server ${k}` });
    const channelId = guild.channels[0]!.id;
    const members = Array.from(
      { length: n },
      (_, i) => w.discord.createUser({ username: `s${k}m${i}`, guildIds: [guild.id] }).id,
    );
    return { guildId: guild.id, channelId, members };
  });
  return [own, ...more];
}

/** The job's reply as its member sees it now. */
function reply(jobId: number): APIMessage | undefined {
  const job = w.app!.jobs.get(jobId)!;
  return w.discord.messages(job.channelId).find((m) => m.id === job.messageId);
}

/** The place in line a reply shows (`3rd in line` → 3), or undefined when it shows none. */
function shownPlace(jobId: number): number | undefined {
  const m = /(\d+)(?:st|nd|rd|th) in line/.exec(embedText(reply(jobId) ?? { content: '', embeds: [] }));
  return m ? Number(m[1]) : undefined;
}

const allJobs = () => {
  const out = [];
  for (let id = 1; w.app!.jobs.get(id); id++) out.push(w.app!.jobs.get(id)!);
  return out;
};

describe('the line for upstream capacity (end to end)', () => {
  it('30 members in 3 servers at once, 3 slots upstream: a fair, shrinking line, every video once', async () => {
    w = await world({ tuzi: { maxRunningJobs: 3, jobDurationMs: 2 * MINUTE } });
    const groups = servers(10);
    const handles = groups.flatMap((g) =>
      g.members.map((userId, i) =>
        w.discord.invokeSlashCommand({
          guildId: g.guildId,
          channelId: g.channelId,
          userId,
          name: 'sora',
          options: { prompt: `${g.guildId.slice(-4)} member ${i}` },
        }),
      ),
    );
    await Promise.all(handles.map((h) => h.acknowledged()));
    await w.settle();
    await w.advance(10_000); // the places' refresh runs at the edit spacing
    expect(handles.every((h) => h.callbackErrors.length === 0)).toBe(true);
    expect(w.tuzi.runningJobs()).toBe(3);
    const waiting = allJobs().filter((j) => j.status === 'waiting');
    expect(waiting).toHaveLength(27);
    expect(waiting.map((j) => shownPlace(j.id)).sort((a, b) => a! - b!)).toEqual(
      Array.from({ length: 27 }, (_, i) => i + 1),
    );

    // Follow one job at the back of the line: its place only moves forward.
    const last = waiting.find((j) => shownPlace(j.id) === 27)!;
    const places: number[] = [27];
    let maxRunning = 0;
    await w.advanceUntil(
      () => {
        maxRunning = Math.max(maxRunning, w.tuzi.runningJobs());
        const place = shownPlace(last.id);
        if (place !== undefined && place !== places.at(-1)) places.push(place);
        return (
          videoMessages(w, groups[0]!.channelId).length +
            videoMessages(w, groups[1]!.channelId).length +
            videoMessages(w, groups[2]!.channelId).length ===
          30
        );
      },
      60 * MINUTE,
      5_000,
    );
    await w.advance(2 * MINUTE);
    expect(maxRunning).toBeLessThanOrEqual(3);
    expect(places.length).toBeGreaterThan(3);
    expect([...places].sort((a, b) => b - a)).toEqual(places);

    const jobs = allJobs();
    expect(jobs.every((j) => j.status === 'delivered')).toBe(true);
    expect(new Set(jobs.map((j) => j.deliveredMessageId)).size).toBe(30);
    for (const g of groups) expect(videoMessages(w, g.channelId)).toHaveLength(10);
    // Each 429-answered POST made nothing; every other POST made exactly one job.
    const refused = creates(w).filter((r) => r.status === 429).length;
    expect(creates(w)).toHaveLength(30 + refused);
    expect(w.tuzi.jobs.size).toBe(30);
    // Fair: the first nine sent include all three servers.
    const byUpstream = new Map(jobs.map((j) => [j.upstreamId, j.guildId]));
    const firstNine = [...w.tuzi.jobs.keys()].slice(0, 9).map((id) => byUpstream.get(id));
    expect(new Set(firstNine).size).toBe(3);
  });

  it('above the provider’s cap (its 429s do the limiting), no place shown ever moves back', async () => {
    // TUZI_MAX_RUNNING_JOBS at its default (10), the provider's cap 3: creates beyond it are answered 429.
    w = await world({ tuzi: { maxRunningJobs: 3, jobDurationMs: 2 * MINUTE } });
    const groups = servers(8);
    // Uneven: 8 jobs from one server, 3 and 2 from the others.
    const senders = [...groups[0]!.members.map((u) => [groups[0]!, u] as const)];
    for (const [g, n] of [
      [groups[1]!, 3],
      [groups[2]!, 2],
    ] as const)
      for (const u of g.members.slice(0, n)) senders.push([g, u]);
    const handles = senders.map(([g, userId], i) =>
      w.discord.invokeSlashCommand({
        guildId: g.guildId,
        channelId: g.channelId,
        userId,
        name: 'sora',
        options: { prompt: `uneven ${i}` },
      }),
    );
    await Promise.all(handles.map((h) => h.acknowledged()));
    await w.settle();
    await w.advanceUntil(() => allJobs().every((j) => j.status === 'delivered'), 60 * MINUTE, 5_000);
    expect(creates(w).filter((r) => r.status === 429).length).toBeGreaterThan(0);
    // Every place each reply showed, in order: never further back than the one before.
    let shown = 0;
    for (const g of groups) {
      const places = new Map<string, number[]>();
      for (const e of w.discord.timeline(g.channelId)) {
        const m = /(\d+)(?:st|nd|rd|th) in line/.exec(embedText({ content: e.content, embeds: e.embeds as never }));
        if (!m) continue;
        places.set(e.messageId, [...(places.get(e.messageId) ?? []), Number(m[1])]);
        shown++;
      }
      for (const [id, seq] of places)
        expect(
          [...seq].sort((a, b) => b - a),
          `places shown by ${id}`,
        ).toEqual(seq);
    }
    expect(shown).toBeGreaterThan(10);
  });

  it('cancel while waiting sends nothing; cancel while running frees the slot and says whether it stopped', async () => {
    w = await world({
      env: { TUZI_MAX_RUNNING_JOBS: '1', DEFAULT_MAX_ACTIVE: '2' },
      tuzi: { jobDurationMs: 10 * MINUTE, deleteActive: 'cancel' },
    });
    await sora(w, w.users.alice, { prompt: 'runs first' });
    await sora(w, w.users.alice, { prompt: 'waits' });
    await w.advance(10_000);
    expect(w.app!.jobs.get(1)!.status).toBe('queued');
    expect(w.app!.jobs.get(2)!.status).toBe('waiting');
    expect(shownPlace(2)).toBe(1);

    // Someone else may not cancel it.
    const foreign = w.discord.clickButton({ messageId: reply(2)!.id, customId: 'sora:cancel:2', userId: w.users.li });
    await foreign.acknowledged();
    await w.settle();
    expect(w.app!.jobs.get(2)!.status).toBe('waiting');

    const cancelWaiting = w.discord.clickButton({
      messageId: reply(2)!.id,
      customId: 'sora:cancel:2',
      userId: w.users.alice,
    });
    await cancelWaiting.acknowledged();
    await w.settle();
    expect(w.app!.jobs.get(2)!.status).toBe('withdrawn');
    expect(embedText(reply(2)!)).toContain('Nothing was charged');
    expect(creates(w)).toHaveLength(1);

    // The slot held by job 2 is free at once: a new job is accepted within max_active 2.
    await sora(w, w.users.alice, { prompt: 'third' });
    expect(w.app!.jobs.get(3)!.status).toBe('waiting');

    // A moderator cancels the running one: the provider stops it, the slot frees, job 3 is sent.
    const cancelRunning = w.discord.clickButton({
      messageId: reply(1)!.id,
      customId: 'sora:cancel:1',
      userId: w.users.mod,
    });
    await cancelRunning.acknowledged();
    await w.settle();
    expect(w.app!.jobs.get(1)!.status).toBe('cancelled');
    expect(embedText(reply(1)!)).toContain('The video service stopped it');
    expect(w.tuzi.requests.some((r) => r.method === 'DELETE')).toBe(true);
    await w.advance(10_000);
    expect(creates(w)).toHaveLength(2);
    expect(w.app!.jobs.get(3)!.status).toBe('queued');
    // The daily count keeps the video that was sent and cancelled, not the one that never left the line.
    expect(w.app!.jobs.guildUsage(w.guildId, 0).started).toBe(2);
  });

  it('a restart with 50 jobs waiting keeps their order', { timeout: 120_000 }, async () => {
    w = await world({ env: { TUZI_MAX_RUNNING_JOBS: '1', DEFAULT_MAX_ACTIVE: '0' }, tuzi: { jobDurationMs: 10_000 } });
    const members = Array.from(
      { length: 5 },
      (_, i) => w.discord.createUser({ username: `r${i}`, guildIds: [w.guildId] }).id,
    );
    const handles = Array.from({ length: 51 }, (_, i) =>
      w.discord.invokeSlashCommand({
        guildId: w.guildId,
        channelId: w.channelId,
        userId: members[i % 5]!,
        name: 'sora',
        options: { prompt: `job ${i}` },
      }),
    );
    await Promise.all(handles.map((h) => h.acknowledged()));
    await w.settle();
    await w.advance(10_000);
    const placesBefore = allJobs()
      .filter((j) => j.status === 'waiting')
      .map((j) => [j.id, shownPlace(j.id)] as const);
    expect(placesBefore).toHaveLength(50);
    const sentBefore = allJobs().filter((j) => j.upstreamId !== null);
    expect(sentBefore).toHaveLength(1);
    await w.stopBot();
    await w.startBot();
    await w.advance(10_000);
    const order: number[] = [];
    await w.advanceUntil(
      () => {
        for (const j of allJobs())
          if (j.upstreamId && !order.includes(j.id) && j.id !== sentBefore[0]!.id) order.push(j.id);
        return order.length === 50;
      },
      60 * MINUTE,
      5_000,
    );
    const expected = [...placesBefore].sort((a, b) => a[1]! - b[1]!).map(([id]) => id);
    expect(order).toEqual(expected);
    expect(creates(w).filter((r) => r.status === 200)).toHaveLength(51);
  });

  it('the balance runs out mid-way: nothing fails, the line pauses, moderators are told once, it resumes', async () => {
    // Enough credits for three 10-second videos (the emulator charges a credit per second).
    w = await world({
      env: { DEFAULT_MAX_ACTIVE: '0' },
      tuzi: { credits: 30, jobDurationMs: 2 * MINUTE, quotaStyle: 'openai' },
    });
    const logChannel = w.discord.createChannel(w.guildId, { name: 'mod-log' }).id;
    await command(w, w.users.mod, 'sora-config', { subcommand: 'set', options: { log_channel: logChannel } });
    const members = Array.from(
      { length: 6 },
      (_, i) => w.discord.createUser({ username: `b${i}`, guildIds: [w.guildId] }).id,
    );
    for (const [i, m] of members.entries()) await sora(w, m, { prompt: `on credit ${i}` });
    await w.advance(20_000);
    const jobs = () => allJobs();
    expect(jobs().filter((j) => j.upstreamId !== null)).toHaveLength(3);
    expect(jobs().filter((j) => j.status === 'waiting')).toHaveLength(3);
    expect(embedText(reply(jobs().find((j) => j.status === 'waiting')!.id)!)).toContain('video service is paused');
    const show = await command(w, w.users.mod, 'sora-config', { subcommand: 'show' });
    const shown = w.discord
      .messages(w.channelId, { includeEphemeral: true })
      .find((m) => m.id === show.originalMessageId)!;
    expect(embedText(shown)).toContain('The video service is paused');

    // Probes go on while the balance is empty; moderators hear of it once.
    await w.advance(15 * MINUTE, 10_000);
    const pausedLines = () =>
      w.discord.messages(logChannel).filter((m) => m.content.includes('The video service is paused')).length;
    expect(pausedLines()).toBe(1);
    expect(jobs().filter((j) => j.status === 'waiting')).toHaveLength(3);
    expect(jobs().some((j) => j.status === 'submit_failed' || j.status === 'failed')).toBe(false);

    w.tuzi.topUp(1_000);
    await w.advanceUntil(() => videoMessages(w).length === 6, 30 * MINUTE, 10_000);
    await w.advance(MINUTE);
    expect(jobs().every((j) => j.status === 'delivered')).toBe(true);
    expect(pausedLines()).toBe(1);
    expect(w.discord.messages(logChannel).filter((m) => m.content.includes('works again'))).toHaveLength(1);
    // Refused POSTs made nothing: six jobs upstream in all.
    expect(w.tuzi.jobs.size).toBe(6);
  });
});
