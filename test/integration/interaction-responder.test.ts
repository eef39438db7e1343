import { ButtonStyle, ComponentType, type ChatInputCommandInteraction } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { interactionResponder } from '../../src/commands/sora.js';
import { replyPrivately } from '../../src/interactions.js';
import { AcknowledgementsFirst } from '../../src/services/acknowledgements-first.js';
import type { MessageBody } from '../../src/ui/render.js';
import { harness, type Harness } from '../discord-emulator/helpers.js';

/**
 * The /sora responder sends its reply and its edit on the client's REST
 * itself (not through discord.js's reply()/editReply()): what Discord gets
 * and what discord.js then believes about the interaction must be what
 * discord.js's own methods would have left.
 */
let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** An API-shaped body whose keys are snake case, nested (what renderJob makes). */
const BODY: MessageBody = {
  content: '',
  embeds: [
    {
      title: 'A corgi surfing',
      description: 'In line: 3rd',
      footer: { text: 'sora-2 · 10 s', icon_url: 'https://cdn.example/icon.png' },
      fields: [{ name: 'Size', value: '1280x720', inline: true }],
    },
  ],
  components: [
    {
      type: ComponentType.ActionRow,
      components: [
        { type: ComponentType.Button, style: ButtonStyle.Secondary, custom_id: 'job:1:cancel', label: 'Cancel' },
      ],
    },
  ],
  allowed_mentions: { parse: [] },
};

async function slash(x: Harness) {
  const client = await x.login();
  const arriving = x.next<ChatInputCommandInteraction>(client);
  const handle = x.discord.invokeSlashCommand({
    guildId: x.guild.id,
    channelId: x.channel.id,
    userId: x.user.id,
    name: 'sora',
    options: { prompt: 'a corgi surfing' },
  });
  return { interaction: await arriving, handle };
}

describe('interactionResponder', () => {
  it('acknowledges with the first reply itself: the body as given, its message id, and discord.js knows it replied', async () => {
    h = await harness();
    const { interaction, handle } = await slash(h);
    const ack = await interactionResponder(interaction, new AcknowledgementsFirst()).acknowledge(() => BODY);

    expect(handle.ack?.type).toBe(4);
    expect(ack).toEqual({ replied: true, messageId: handle.originalMessageId });
    const message = h.discord.message(ack.messageId!)!;
    expect(message.embeds[0]).toMatchObject(BODY.embeds[0]!);
    expect(message.components?.[0]).toMatchObject(BODY.components[0]!);
    expect(message.content).toBe('');
    expect(h.discord.requests.find((r) => r.route === 'callback')).toMatchObject({
      status: 200,
      query: '?with_response=true',
    });

    // The router's private answer after a public reply is a follow-up, not a second acknowledgement (40060).
    expect(interaction.replied).toBe(true);
    expect(interaction.ephemeral).toBe(false);
    await replyPrivately(interaction, 'Something went wrong');
    expect(h.discord.timeline(h.channel.id).map((e) => [e.kind, e.ephemeral])).toEqual([
      ['create', false],
      ['create', true],
    ]);
  });

  it('defers without a first reply, and the edit completes the deferral and names its message', async () => {
    h = await harness();
    const { interaction, handle } = await slash(h);
    const responder = interactionResponder(interaction);
    expect(await responder.acknowledge()).toEqual({ replied: false, messageId: null });
    expect(handle.ack?.type).toBe(5);

    const { messageId } = await responder.edit({ ...BODY, content: 'Ready' });
    expect(messageId).toBe(handle.originalMessageId);
    const message = h.discord.message(messageId)!;
    expect(message.content).toBe('Ready');
    expect(message.embeds[0]).toMatchObject(BODY.embeds[0]!);

    // An empty content on an edit clears what was there.
    await responder.edit(BODY);
    expect(h.discord.message(messageId)!.content).toBe('');
  });

  it('defers while another acknowledgement of the process is pending, even with a first reply ready', async () => {
    h = await harness();
    const { interaction, handle } = await slash(h);
    const first = new AcknowledgementsFirst();
    let release!: () => void;
    const other = first.acknowledge(() => new Promise<void>((resolve) => (release = resolve)));
    const acknowledging = interactionResponder(interaction, first).acknowledge(() => BODY);
    await expect.poll(() => handle.ack?.type).toBe(5);
    release();
    await other;
    expect(await acknowledging).toEqual({ replied: false, messageId: null });
  });
});
