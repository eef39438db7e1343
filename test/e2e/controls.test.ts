import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../emulators/world.js';
import { command, creates, embedText, jobRequests, sora, world } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

const ephemeral = (id: string | null) =>
  w.discord.messages(w.channelId, { includeEphemeral: true }).find((m) => m.id === id);
const config = (fields: Parameters<typeof command>[3]) => command(w, w.users.mod, 'sora-config', fields);
const nextUtcMidnight = (now: number) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
};
const members = (n: number) =>
  Array.from({ length: n }, (_, i) => w.discord.createUser({ username: `member${i}`, guildIds: [w.guildId] }).id);

describe('server controls (end to end)', () => {
  it('server_daily_limit 5: twenty members at once start exactly 5 videos; 15 are refused privately with the reset time', async () => {
    w = await world();
    await config({ subcommand: 'set', options: { server_daily_limit: 5 } });
    const handles = members(20).map((userId, i) =>
      w.discord.invokeSlashCommand({
        guildId: w.guildId,
        channelId: w.channelId,
        userId,
        name: 'sora',
        options: { prompt: `member ${i} video` },
      }),
    );
    await Promise.all(handles.map((h) => h.acknowledged()));
    await w.settle();
    expect(creates(w)).toHaveLength(5);
    const reset = `<t:${nextUtcMidnight(w.clock.now()) / 1000}:R>`;
    const refusals = handles.map((h) => ephemeral(h.originalMessageId)).filter((m) => m?.flags === 64);
    expect(refusals).toHaveLength(15);
    for (const m of refusals) {
      expect(m!.content).toContain('This server reached today’s limit of 5 video(s)');
      expect(m!.content).toContain(reset);
    }
    const show = await config({ subcommand: 'show' });
    const text = embedText(ephemeral(show.originalMessageId)!);
    expect(text).toContain('Videos: **5** of 5');
    expect(text).toContain('budget 15');
  });

  it('server_daily_credits prices each video: a pro video that does not fit is refused, a cheaper one passes', async () => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0' } });
    await config({ subcommand: 'set', options: { server_daily_credits: 100, costs: 'sora-2-pro:25=80' } });
    await sora(w, w.users.alice, { prompt: 'long pro', model: 'sora-2-pro', duration: 25 });
    const refused = await sora(w, w.users.li, { prompt: 'second pro', model: 'sora-2-pro', duration: 25 });
    expect(ephemeral(refused.originalMessageId)?.content).toContain(
      '本服务器今日已用 80 / 100 积分，此视频需要 80 积分',
    );
    await sora(w, w.users.li, { prompt: 'short', model: 'sora-2', duration: 15 });
    expect(creates(w)).toHaveLength(2);
    const show = await config({ subcommand: 'show' });
    const text = embedText(ephemeral(show.originalMessageId)!);
    expect(text).toContain('Credits: **95** of 100');
    expect(text).toContain('`sora-2-pro` 25 s: **80***');
  });

  it('a role override gives boosters 10 a day while everyone else keeps 2', async () => {
    // Room upstream for every admitted job at once: this story is about the daily limits, not the line.
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0', TUZI_MAX_RUNNING_JOBS: '50' } });
    const booster = w.discord.createRole(w.guildId, { name: 'booster' });
    w.discord.setMemberRoles(w.guildId, w.users.alice, [booster.id]);
    await config({ subcommand: 'set', options: { daily_limit: 2 } });
    await config({ subcommandGroup: 'role', subcommand: 'set', options: { role: booster.id, daily_limit: 10 } });
    for (let i = 0; i < 12; i++) await sora(w, w.users.alice, { prompt: `boost ${i}` });
    expect(creates(w)).toHaveLength(10);
    let last = await sora(w, w.users.alice, { prompt: 'one more' });
    expect(ephemeral(last.originalMessageId)?.content).toContain('today’s limit of 10');
    for (let i = 0; i < 3; i++) last = await sora(w, w.users.li, { prompt: `plain ${i}` }, { locale: 'en-US' });
    expect(creates(w)).toHaveLength(12);
    expect(ephemeral(last.originalMessageId)?.content).toContain('today’s limit of 2');
    const list = await config({ subcommandGroup: 'role', subcommand: 'list' });
    expect(embedText(ephemeral(list.originalMessageId)!)).toContain(`<@&${booster.id}>: 10/day`);
  });

  it('once a role is allowed, a member without it is refused with zero upstream requests; a deleted role matches nobody', async () => {
    w = await world();
    const artist = w.discord.createRole(w.guildId, { name: 'artist' });
    w.discord.setMemberRoles(w.guildId, w.users.alice, [artist.id]);
    await config({ subcommandGroup: 'role', subcommand: 'allow', options: { role: artist.id } });
    const refused = await sora(w, w.users.li, { prompt: 'not for me' }, { locale: 'en-US' });
    const reply = ephemeral(refused.originalMessageId)!;
    expect(reply.flags).toBe(64);
    expect(reply.content).toContain(`members with one of these roles: <@&${artist.id}>`);
    expect(jobRequests(w)).toHaveLength(0);
    await sora(w, w.users.alice, { prompt: 'for artists' });
    expect(creates(w)).toHaveLength(1);

    w.discord.deleteRole(w.guildId, artist.id);
    const after = await sora(w, w.users.alice, { prompt: 'role gone' });
    expect(ephemeral(after.originalMessageId)?.content).toContain('members with one of these roles');
    expect(creates(w)).toHaveLength(1);
    const list = await config({ subcommandGroup: 'role', subcommand: 'list' });
    expect(embedText(ephemeral(list.originalMessageId)!)).toContain('(deleted role: matches nobody)');
    // Discord offers only existing roles: a deleted one's rules go with `role clear` and no role.
    const pruned = await config({ subcommandGroup: 'role', subcommand: 'clear' });
    expect(ephemeral(pruned.originalMessageId)?.content).toBe('Removed the rules of 1 deleted role(s).');
    await sora(w, w.users.li, { prompt: 'open again' });
    expect(creates(w)).toHaveLength(2);
  });

  it('a blocked member is refused privately with the reason, until unblocked', async () => {
    w = await world();
    const saved = await config({
      subcommandGroup: 'block',
      subcommand: 'add',
      options: { user: w.users.li, reason: '刷屏' },
    });
    expect(ephemeral(saved.originalMessageId)?.content).toContain(`Blocked <@${w.users.li}>`);
    const refused = await sora(w, w.users.li, { prompt: '一只猫' }, { locale: 'zh-CN' });
    const reply = ephemeral(refused.originalMessageId)!;
    expect(reply.flags).toBe(64);
    expect(reply.content).toBe('你已被禁止在本服务器使用 `/sora`：刷屏');
    expect(jobRequests(w)).toHaveLength(0);
    const list = await config({ subcommandGroup: 'block', subcommand: 'list' });
    expect(embedText(ephemeral(list.originalMessageId)!)).toContain(`<@${w.users.li}>`);
    await config({ subcommandGroup: 'block', subcommand: 'remove', options: { user: w.users.li } });
    await sora(w, w.users.li, { prompt: '一只猫' });
    expect(creates(w)).toHaveLength(1);
  });

  it('the prompt filter refuses a Chinese word inside a sentence and a mixed-case English one, privately, naming neither', async () => {
    w = await world();
    await config({ subcommandGroup: 'filter', subcommand: 'add', options: { term: '禁词' } });
    await config({ subcommandGroup: 'filter', subcommand: 'add', options: { term: 'forbidden' } });
    const zh = await sora(w, w.users.li, { prompt: '这是一个包含禁词的句子' }, { locale: 'zh-CN' });
    const en = await sora(w, w.users.alice, { prompt: 'A ForBiDDen dance at dawn' });
    const spaced = await sora(w, w.users.alice, { prompt: 'a f.o.r.b.i.d.d.e.n dance' });
    for (const h of [zh, en, spaced]) {
      const m = ephemeral(h.originalMessageId)!;
      expect(m.flags).toBe(64);
      expect(m.content).not.toMatch(/禁词|forbidden/i);
    }
    expect(ephemeral(zh.originalMessageId)!.content).toContain('此请求包含本服务器不允许的词语');
    expect(ephemeral(en.originalMessageId)!.content).toContain('contains a word or phrase this server does not allow');
    expect(jobRequests(w)).toHaveLength(0);
    await sora(w, w.users.alice, { prompt: 'a forbidding castle' }); // whole words only
    expect(creates(w)).toHaveLength(1);
    const show = await config({ subcommand: 'show' });
    expect(embedText(ephemeral(show.originalMessageId)!)).toContain('filter 3');
    const list = await config({ subcommandGroup: 'filter', subcommand: 'list' });
    expect(embedText(ephemeral(list.originalMessageId)!)).toContain('`禁词` · `forbidden`');
  });

  it('the log channel gets one line per event, batched under a burst, never a private prompt, and never pings', async () => {
    w = await world();
    const logChannel = w.discord.createChannel(w.guildId, { name: 'mod-log' }).id;
    await config({ subcommand: 'set', options: { log_channel: logChannel, server_daily_limit: 4 } });
    await config({ subcommandGroup: 'filter', subcommand: 'add', options: { term: 'forbidden' } });
    w.tuzi.injectFault({ kind: 'http-error', route: 'create', status: 400, message: 'bad request' });
    await sora(w, w.users.alice, { prompt: 'doomed request' });
    expect(w.app!.jobs.get(1)!.status).toBe('submit_failed');

    const [m1, m2, m3, m4] = members(4);
    const burst: { userId: string; options: Record<string, string | boolean> }[] = [
      { userId: w.users.alice, options: { prompt: 'a Forbidden dance' } },
      { userId: w.users.li, options: { prompt: 'a red fox in the snow' } },
      { userId: m1!, options: { prompt: 'my secret private plan', private: true } },
      { userId: m2!, options: { prompt: 'a blue whale' } },
      { userId: m3!, options: { prompt: 'a green frog' } },
      { userId: m4!, options: { prompt: 'a yellow bird' } },
    ];
    const handles = burst.map((b) =>
      w.discord.invokeSlashCommand({ guildId: w.guildId, channelId: w.channelId, name: 'sora', ...b }),
    );
    await Promise.all(handles.map((h) => h.acknowledged()));
    await w.settle();
    expect(creates(w)).toHaveLength(5); // the doomed one and four within the budget
    expect(w.discord.messages(logChannel)).toHaveLength(0); // nothing yet: the batch waits a moment

    await w.advance(3_000);
    const posts = w.discord.messages(logChannel);
    expect(posts).toHaveLength(1);
    const lines = posts[0]!.content.split('\n');
    // 2 settings changes, 1 failure, 4 starts, 1 filter refusal, 1 budget refusal.
    expect(lines).toHaveLength(9);
    expect(lines.filter((l) => l.startsWith('⚙️'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('❌'))).toEqual([expect.stringContaining('submit_failed: rejected')]);
    expect(lines.filter((l) => l.startsWith('▶️'))).toHaveLength(4);
    expect(lines.filter((l) => l.includes('prompt filter'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('server’s daily video limit'))).toHaveLength(1);
    const text = posts[0]!.content;
    expect(text).not.toContain('secret');
    expect(text).toContain('(private: prompt not logged)');
    expect(text).toMatch(/“a (red fox in the snow|blue whale|green frog|yellow bird)”/);
    expect(text).not.toMatch(/forbidden/i);
    expect(text).toContain(`https://discord.com/channels/${w.guildId}/${w.channelId}/`);
    const post = w.discord.requests.filter((r) => r.method === 'POST' && r.channelId === logChannel);
    expect(post).toHaveLength(1);
    expect(post[0]!.json).toMatchObject({ allowed_mentions: { parse: [] } });

    // The next change waits for the interval after the last post.
    await config({ subcommand: 'set', options: { log_off: true } });
    await w.advance(3_000);
    expect(w.discord.messages(logChannel)).toHaveLength(1);
    await w.advance(7_000);
    const after = w.discord.messages(logChannel);
    expect(after).toHaveLength(2);
    expect(after[1]!.content).toContain('logChannel=—');
    // The log is off now.
    await sora(w, w.users.alice, { prompt: 'unlogged' });
    await w.advance(30_000);
    expect(w.discord.messages(logChannel)).toHaveLength(2);
  });

  it('export hands the moderator a JSON file privately; reset restores settings and keeps the lists', async () => {
    w = await world();
    const artist = w.discord.createRole(w.guildId, { name: 'artist' });
    await config({ subcommand: 'set', options: { server_daily_limit: 1, server_daily_credits: 500 } });
    await config({ subcommandGroup: 'role', subcommand: 'set', options: { role: artist.id, max_active: 5 } });
    await config({ subcommandGroup: 'filter', subcommand: 'add', options: { term: '禁词' } });
    await config({ subcommandGroup: 'block', subcommand: 'add', options: { user: w.users.li } });

    const exported = await config({ subcommand: 'export' });
    const message = ephemeral(exported.originalMessageId)!;
    expect(message.flags).toBe(64);
    expect(message.attachments).toHaveLength(1);
    expect(message.attachments[0]!.filename).toMatch(/^sora-config-\d+-\d{4}-\d\d-\d\d\.json$/);
    const doc = JSON.parse(w.discord.attachmentData(message.attachments[0]!.id)!.toString('utf8')) as {
      settings: { effective: Record<string, unknown> };
      roles: { roleId: string; maxActive: number }[];
      filter: { term: string }[];
      blocks: { userId: string }[];
      audit: unknown[];
    };
    expect(doc.settings.effective).toMatchObject({ serverDailyLimit: 1, serverDailyCredits: 500 });
    expect(doc.roles).toEqual([expect.objectContaining({ roleId: artist.id, maxActive: 5 })]);
    expect(doc.filter.map((f) => f.term)).toEqual(['禁词']);
    expect(doc.blocks.map((b) => b.userId)).toEqual([w.users.li]);
    expect(doc.audit).toHaveLength(4);

    const reset = await config({ subcommand: 'reset' });
    const text = embedText(ephemeral(reset.originalMessageId)!);
    expect(text).toContain('Role rules, blocks and the filter are kept');
    expect(text).toContain('Videos: **0** of unlimited');
    expect(text).toContain('1 role rule(s) · 1 blocked member(s) · 1 filter term(s)');
  });
});
