import { Client, Events, type ChatInputCommandInteraction } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { memberRoleIds } from '../../src/commands/sora.js';
import { discordClientOptions } from '../../src/services/discord-rest.js';
import { harness, type Harness } from '../discord-emulator/helpers.js';

/**
 * The client keeps no member or user but the bot's own: an interaction
 * carries the member and user it needs, and a bot in many servers would
 * otherwise hold every member who ever ran a command, for good.
 */
let h: Harness | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await h?.close();
  h = undefined;
});

describe('discordClientOptions: caches', () => {
  it('keeps no member or user of the interactions, the bot’s own member stays, and the roles still read', async () => {
    h = await harness();
    const role = h.discord.createRole(h.guild.id, { name: 'Boosters' });
    const bob = h.discord.createUser({ username: 'bob', guildIds: [h.guild.id] });
    h.discord.setMemberRoles(h.guild.id, bob.id, [role.id]);
    client = new Client(discordClientOptions(h.discord.apiUrl));
    const ready = new Promise<void>((resolve) => client!.once(Events.ClientReady, () => resolve()));
    await client.login(h.discord.botToken);
    await ready;

    const seen: ChatInputCommandInteraction[] = [];
    client.on(Events.InteractionCreate, (i) => {
      if (i.isChatInputCommand()) seen.push(i);
    });
    for (const userId of [h.user.id, bob.id, bob.id]) {
      const handle = h.discord.invokeSlashCommand({
        guildId: h.guild.id,
        channelId: h.channel.id,
        userId,
        name: 'sora',
        options: { prompt: 'a corgi surfing' },
      });
      await expect.poll(() => seen.some((i) => i.id === handle.id)).toBe(true);
    }

    const guild = client.guilds.cache.get(h.guild.id)!;
    expect([...guild.members.cache.keys()]).toEqual([client.user!.id]);
    expect(guild.members.me?.id).toBe(client.user!.id);
    expect([...client.users.cache.keys()]).toEqual([client.user!.id]);
    // An uncached member still reads its roles (the server's roles are cached) and its user.
    expect(seen[1]!.user.id).toBe(bob.id);
    expect(memberRoleIds(seen[1]!).sort()).toEqual([h.guild.id, role.id].sort());
    expect(memberRoleIds(seen[0]!)).toEqual([h.guild.id]);
  });
});
