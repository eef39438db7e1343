import { Client, Events, GatewayIntentBits, PermissionFlagsBits, type ChatInputCommandInteraction } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './helpers.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('Discord emulator: roles', () => {
  it('announces a new role, and the member’s roles and permissions reach the bot in the interaction', async () => {
    h = await harness();
    const client = await h.login();
    const booster = h.discord.createRole(h.guild.id, {
      name: 'booster',
      permissions: PermissionFlagsBits.ManageGuild.toString(),
    });
    await until(() => client.guilds.cache.get(h!.guild.id)!.roles.cache.has(booster.id));
    h.discord.setMemberRoles(h.guild.id, h.user.id, [booster.id]);

    const next = h.next<ChatInputCommandInteraction>(client);
    h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'x' },
    });
    const interaction = await next;
    expect(interaction.inCachedGuild()).toBe(true);
    if (!interaction.inCachedGuild()) return;
    expect([...interaction.member.roles.cache.keys()].sort()).toEqual([booster.id, h.guild.id].sort());
    // Permissions follow the roles: @everyone's plus the booster role's.
    expect(interaction.memberPermissions.has(PermissionFlagsBits.ManageGuild)).toBe(true);
  });

  it('deleting a role takes it from every member and tells the bot with GUILD_ROLE_DELETE', async () => {
    h = await harness();
    const client = await h.login();
    const role = h.discord.createRole(h.guild.id, { name: 'artist' });
    h.discord.setMemberRoles(h.guild.id, h.user.id, [role.id]);
    const deleted = new Promise<string>((resolve) => client.once(Events.GuildRoleDelete, (r) => resolve(r.id)));
    h.discord.deleteRole(h.guild.id, role.id);
    expect(await deleted).toBe(role.id);

    const handle = h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'x' },
    });
    expect((handle.payload.member as { roles: string[] }).roles).toEqual([]);
    expect(() => h!.discord.setMemberRoles(h!.guild.id, h!.user.id, [role.id])).toThrow(/unknown role/);
  });

  it('sends GUILD_MEMBER_UPDATE only to sessions with the privileged GUILD_MEMBERS intent', async () => {
    h = await harness({ privilegedIntents: GatewayIntentBits.GuildMembers });
    const plain = await h.login();
    const withMembers = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers],
      rest: { api: h.discord.apiUrl },
    });
    h.clients.push(withMembers);
    const ready = new Promise<void>((resolve) => withMembers.once(Events.ClientReady, () => resolve()));
    await withMembers.login(h.discord.botToken);
    await ready;

    const role = h.discord.createRole(h.guild.id, { name: 'vip' });
    await until(() => withMembers.guilds.cache.get(h!.guild.id)!.roles.cache.has(role.id));
    let plainSaw = false;
    plain.on(Events.GuildMemberUpdate, () => (plainSaw = true));
    const updated = new Promise<string[]>((resolve) =>
      withMembers.once(Events.GuildMemberUpdate, (_old, m) => resolve([...m.roles.cache.keys()])),
    );
    h.discord.setMemberRoles(h.guild.id, h.user.id, [role.id]);
    expect(await updated).toContain(role.id);
    expect(plainSaw).toBe(false);
    const dispatched = h.discord.gatewayLog.filter((e) => e.kind === 'dispatch' && e.t === 'GUILD_MEMBER_UPDATE');
    expect(dispatched).toHaveLength(1);
  });
});
