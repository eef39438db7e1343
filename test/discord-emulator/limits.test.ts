import type { DiscordAPIError } from 'discord.js';
import { REST, Routes, type APIMessage, type RateLimitData } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startDiscordEmulator, type DiscordEmulator } from '../../emulators/discord/index.js';
import { caught, harness, type Harness } from './helpers.js';

let h: Harness | undefined;
let bare: DiscordEmulator | undefined;

afterEach(async () => {
  await h?.close();
  await bare?.close();
  h = undefined;
  bare = undefined;
});

const KiB = 1024;
const MiB = 1024 * KiB;

function fileForm(bytes: number, content = 'video'): FormData {
  const form = new FormData();
  form.append('payload_json', JSON.stringify({ content, attachments: [{ id: '0', filename: 'clip.mp4' }] }));
  form.append('files[0]', new Blob([Buffer.alloc(bytes, 7)], { type: 'video/mp4' }), 'clip.mp4');
  return form;
}

function bot(d: DiscordEmulator, init: RequestInit = {}): RequestInit {
  return {
    ...init,
    headers: { authorization: `Bot ${d.botToken}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  };
}

async function deferredInteraction(x: Harness) {
  const client = x.clients[0] ?? (await x.login());
  const arriving = x.next(client);
  const handle = x.discord.invokeSlashCommand({
    guildId: x.guild.id,
    channelId: x.channel.id,
    userId: x.user.id,
    name: 'sora',
    options: { prompt: 'p' },
  });
  const interaction = await arriving;
  if (!interaction.isChatInputCommand()) throw new Error('expected a slash command');
  await interaction.deferReply();
  return { client, handle, interaction };
}

describe('Discord emulator: upload bandwidth', () => {
  // Bodies larger than the loopback socket buffers (a few MiB), so the client cannot have
  // handed the whole body to the kernel before its timeout: the abort really lands mid-body.
  const BIG = 16 * MiB;

  it("reads a body no faster than the channel's bandwidth, so a client timeout fires mid-upload", async () => {
    h = await harness({ defaultUploadLimitBytes: 64 * MiB });
    const slow = h.channel;
    const fast = h.discord.createChannel(h.guild.id, { name: 'fast' });
    h.discord.setUploadBandwidth(4 * MiB, slow.id);
    // 16 MiB at 4 MiB/s takes 4 s; the client gives up after 0.5 s (discord.js's `timeout` covers the body).
    const rest = new REST({ api: h.discord.apiUrl, timeout: 500, retries: 0 }).setToken(h.discord.botToken);
    const err = await caught(
      rest.post(Routes.channelMessages(slow.id), { body: fileForm(BIG), passThroughBody: true }),
    );
    expect((err as Error).name).toBe('AbortError');
    // The emulator notices when it has read what the client got onto the wire before giving up.
    const aborted = await h.discord.waitFor(
      () => h!.discord.requests.find((r) => r.route === 'channel_create' && r.aborted),
      { timeoutMs: 20_000, what: 'the aborted upload' },
    );
    expect(aborted.status).toBe(0);
    expect(aborted.bodyBytes).toBeLessThan(BIG);
    expect(h.discord.messages(slow.id)).toHaveLength(0);
    expect(h.discord.stats().abortedRequests).toBe(1);

    // The same upload to a channel without a limit fits in a (generous) timeout.
    const unhurried = new REST({ api: h.discord.apiUrl, timeout: 10_000, retries: 0 }).setToken(h.discord.botToken);
    const ok = (await unhurried.post(Routes.channelMessages(fast.id), {
      body: fileForm(BIG),
      passThroughBody: true,
    })) as APIMessage;
    expect(ok.attachments[0]!.size).toBe(BIG);

    // A small body gets through the slow link.
    const small = (await unhurried.post(Routes.channelMessages(slow.id), {
      body: fileForm(64 * KiB),
      passThroughBody: true,
    })) as APIMessage;
    expect(small.attachments[0]!.size).toBe(64 * KiB);
  });

  it('throttles interaction webhook uploads with the default link, shared by every request', async () => {
    h = await harness({ uploadBandwidth: { default: 4 * MiB }, defaultUploadLimitBytes: 64 * MiB });
    const { interaction, handle } = await deferredInteraction(h);
    const rest = new REST({ api: h.discord.apiUrl, timeout: 500, retries: 0 });
    const err = await caught(
      rest.patch(Routes.webhookMessage(h.discord.applicationId, interaction.token), {
        body: fileForm(BIG),
        passThroughBody: true,
        auth: false,
      }),
    );
    expect((err as Error).name).toBe('AbortError');
    await h.discord.waitFor(() => h!.discord.requests.find((r) => r.route === 'webhook_edit' && r.aborted), {
      timeoutMs: 20_000,
      what: 'the aborted webhook upload',
    });
    expect(h.discord.message(handle.originalMessageId!)?.attachments).toHaveLength(0);
    h.discord.setUploadBandwidth(null);
    const edited = (await rest.patch(Routes.webhookMessage(h.discord.applicationId, interaction.token), {
      body: fileForm(64 * KiB),
      passThroughBody: true,
      auth: false,
    })) as APIMessage;
    expect(edited.attachments).toHaveLength(1);
  });
});

describe('Discord emulator: edits of messages older than an hour (30046)', () => {
  it('answers 429 / 30046 with retry_after, global: false and rate-limit headers past the cap, on the emulator clock', async () => {
    const clock = new ManualClock();
    h = await harness({ clock, oldMessageEdits: { limit: 2, windowMs: 60_000 } });
    const client = await h.login();
    const old = (await client.rest.post(Routes.channelMessages(h.channel.id), {
      body: { content: 'v0' },
    })) as APIMessage;
    await clock.advance(60 * 60_000);
    const young = (await client.rest.post(Routes.channelMessages(h.channel.id), {
      body: { content: 'new' },
    })) as APIMessage;
    await clock.advance(1_000);
    const edit = (id: string, content: string) =>
      fetch(
        `${h!.discord.apiUrl}/v10/channels/${h!.channel.id}/messages/${id}`,
        bot(h!.discord, { method: 'PATCH', body: JSON.stringify({ content }) }),
      );
    expect((await edit(old.id, 'v1')).status).toBe(200);
    expect((await edit(old.id, 'v2')).status).toBe(200);
    const refused = await edit(old.id, 'v3');
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      code: 30046,
      message: 'Maximum number of edits to messages older than 1 hour reached. Try again later.',
      global: false,
    });
    expect(body.retry_after).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('x-ratelimit-scope')).toBe('user');
    expect(refused.headers.get('x-ratelimit-limit')).toBe('2');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(refused.headers.has('x-ratelimit-global')).toBe(false);
    expect(h.discord.message(old.id)?.content).toBe('v2');
    // A message younger than an hour is not capped.
    for (let i = 0; i < 4; i++) expect((await edit(young.id, `n${i}`)).status).toBe(200);
    expect(h.discord.stats()).toMatchObject({ oldMessageEditsRefused: 1 });
    expect(h.discord.requests.filter((r) => r.fault === 'old_message_edit')).toHaveLength(1);
    // It is a 429 that is not shared: it counts as an invalid request.
    expect(h.discord.invalidRequestState().count).toBe(1);
  });

  it('caps webhook edits (@original included) the same way, and discord.js waits out retry_after and retries', async () => {
    const clock = new ManualClock();
    // An "old" message within the token's lifetime only with a short age; one edit per 300 ms.
    h = await harness({ clock, oldMessageEdits: { ageMs: 60_000, limit: 1, windowMs: 300 } });
    const { client, interaction, handle } = await deferredInteraction(h);
    await clock.advance(2 * 60_000);
    const limited: RateLimitData[] = [];
    client.rest.on('rateLimited', (info) => limited.push(info));
    await interaction.editReply('first');
    await interaction.editReply('second');
    expect(h.discord.message(handle.originalMessageId!)?.content).toBe('second');
    const statuses = h.discord.requests.filter((r) => r.route === 'webhook_edit').map((r) => r.status);
    expect(statuses).toContain(429);
    expect(statuses.at(-1)).toBe(200);
    expect(h.discord.requests.find((r) => r.status === 429)?.code).toBe(30046);
  });
});

describe('Discord emulator: the global rate limit', () => {
  it('answers the request past 50/s (here 5 per minute) with a global 429; interaction routes are exempt', async () => {
    h = await harness({ globalRateLimit: { requests: 5, windowMs: 60_000 } });
    const { interaction, handle } = await deferredInteraction(h);
    // login used some of the budget; spend the rest.
    const me = () => fetch(`${h!.discord.apiUrl}/v10/users/@me`, bot(h!.discord));
    let refused: Response | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await me();
      if (res.status === 429) refused = res;
    }
    expect(refused).toBeDefined();
    expect(await refused!.json()).toMatchObject({ message: 'You are being rate limited.', global: true });
    expect(refused!.headers.get('x-ratelimit-global')).toBe('true');
    expect(refused!.headers.get('x-ratelimit-scope')).toBe('global');
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
    // The interaction token's routes are not bound to it.
    const anonymous = new REST({ api: h.discord.apiUrl, retries: 0 });
    for (let i = 0; i < 8; i++) {
      await anonymous.patch(Routes.webhookMessage(h.discord.applicationId, interaction.token), {
        body: { content: `edit ${i}` },
        auth: false,
      });
    }
    expect(h.discord.message(handle.originalMessageId!)?.content).toBe('edit 7');
    expect(h.discord.stats().globalRateLimited).toBeGreaterThanOrEqual(1);
    expect(h.discord.requests.filter((r) => r.route.startsWith('webhook_')).every((r) => r.status === 200)).toBe(true);
  });

  it('lets a test force a global 429 window; discord.js holds its requests until it has passed', async () => {
    h = await harness();
    const client = await h.login();
    const limited: RateLimitData[] = [];
    client.rest.on('rateLimited', (info) => limited.push(info));
    h.discord.forceGlobalRateLimit(300);
    // Callbacks stay exempt while bot routes are refused.
    const raw = await fetch(`${h.discord.apiUrl}/v10/users/@me`, bot(h.discord));
    expect(raw.status).toBe(429);
    expect(await raw.json()).toMatchObject({ global: true });
    await client.rest.get(Routes.user('@me'));
    const mine = h.discord.requests.filter((r) => r.route === 'users_me').map((r) => r.status);
    expect(mine[0]).toBe(429);
    expect(mine.at(-1)).toBe(200);
    expect(mine.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    expect(limited.some((l) => l.global)).toBe(true);
  });
});

describe('Discord emulator: invalid requests and the Cloudflare ban', () => {
  it('counts 401/403/429 (not shared 429s) per IP in a sliding window and bans past the limit', async () => {
    const clock = new ManualClock();
    bare = await startDiscordEmulator({ clock, invalidRequests: { limit: 3, windowMs: 600_000, banMs: 3_600_000 } });
    const wrong = () => fetch(`${bare!.apiUrl}/v10/users/@me`, { headers: { authorization: 'Bot nope' } });
    const right = () => fetch(`${bare!.apiUrl}/v10/users/@me`, bot(bare!));

    bare.injectFault({ route: 'users_me', status: 429, scope: 'shared', times: 2 });
    expect((await right()).status).toBe(429);
    expect((await right()).status).toBe(429);
    expect(bare.invalidRequestState()).toMatchObject({ count: 0, bannedUntil: null });

    for (let i = 0; i < 3; i++) expect((await wrong()).status).toBe(401);
    expect(bare.invalidRequestState()).toMatchObject({ count: 3, bannedUntil: null });
    // The window slides: after 10 minutes the old ones no longer count.
    await clock.advance(600_000);
    expect(bare.invalidRequestState().count).toBe(0);
    for (let i = 0; i < 4; i++) expect((await wrong()).status).toBe(401);
    const state = bare.invalidRequestState();
    expect(state.count).toBe(4);
    expect(state.bannedUntil).toBe(clock.now() + 3_600_000);

    // Banned: every API request, with the right token or none, gets Cloudflare's static 429.
    for (const res of [await right(), await fetch(`${bare.apiUrl}/v10/gateway`)]) {
      expect(res.status).toBe(429);
      expect(await res.json()).toMatchObject({
        code: 0,
        message: expect.stringContaining('You are being blocked from accessing our API temporarily'),
      });
      expect(res.headers.has('retry-after')).toBe(false);
      expect([...res.headers.keys()].some((k) => k.startsWith('x-ratelimit'))).toBe(false);
    }
    expect(bare.stats().bannedRequests).toBe(2);
    // The ban's answers are not counted again.
    expect(bare.invalidRequestState().count).toBe(4);
    await clock.advance(3_600_000);
    expect((await right()).status).toBe(200);
  });

  it('counts what the real discord.js client produces, e.g. a 403 on a channel it cannot see', async () => {
    h = await harness();
    const hidden = h.discord.createChannel(h.guild.id, { name: 'hidden', botPermissions: '0' });
    const client = await h.login();
    const err = await caught(client.rest.post(Routes.channelMessages(hidden.id), { body: { content: 'x' } }));
    expect((err as DiscordAPIError).code).toBe(50001);
    expect(h.discord.invalidRequestState()).toMatchObject({ count: 1, total: 1 });
    h.discord.resetInvalidRequests();
    expect(h.discord.invalidRequestState().count).toBe(0);
  });
});
