import {
  ButtonStyle,
  ComponentType,
  DiscordAPIError,
  MessageFlags,
  TextInputStyle,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type ModalSubmitInteraction,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { caught, harness, type Harness } from './helpers.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const buttons = (disabled = false) => [
  {
    type: ComponentType.ActionRow,
    components: [
      { type: ComponentType.Button, style: ButtonStyle.Primary, custom_id: 'job:1:reroll', label: 'Re-roll', disabled },
      {
        type: ComponentType.Button,
        style: ButtonStyle.Secondary,
        custom_id: 'job:1:character',
        label: 'Use as character',
      },
    ],
  },
];

async function replyWithButtons(x: Harness, client: Awaited<ReturnType<Harness['login']>>): Promise<string> {
  const arriving = x.next<ChatInputCommandInteraction>(client);
  const handle = x.discord.invokeSlashCommand({
    guildId: x.guild.id,
    channelId: x.channel.id,
    userId: x.user.id,
    name: 'sora',
    options: { prompt: 'p' },
  });
  const interaction = await arriving;
  await interaction.reply({ content: 'Video ready', components: buttons() });
  return handle.originalMessageId!;
}

describe('Discord emulator: components, modals, autocomplete', () => {
  it('round-trips a button click: ButtonInteraction with the message, update edits it in place', async () => {
    h = await harness();
    const client = await h.login();
    const messageId = await replyWithButtons(h, client);
    const stored = h.discord.message(messageId)!;
    // Discord numbers components when the client leaves `id` out.
    expect(stored.components?.[0]).toMatchObject({ id: 1, components: [{ id: 2 }, { id: 3 }] });

    const arriving = h.next<ButtonInteraction>(client);
    const click = h.discord.clickButton({ messageId, customId: 'job:1:reroll', userId: h.user.id, locale: 'de' });
    const interaction = await arriving;
    expect(interaction.isButton()).toBe(true);
    expect(interaction.customId).toBe('job:1:reroll');
    expect(interaction.message.id).toBe(messageId);
    expect(interaction.locale).toBe('de');
    await interaction.update({ content: 'Re-rolling…', components: buttons(true) });
    expect(click.ack?.type).toBe(7);
    expect(h.discord.timeline(h.channel.id).at(-1)).toMatchObject({
      kind: 'edit',
      via: 'callback',
      messageId,
      content: 'Re-rolling…',
    });
    expect(() => h!.discord.clickButton({ messageId, customId: 'job:1:reroll', userId: h!.user.id })).toThrow(
      /disabled/,
    );
    expect(() => h!.discord.clickButton({ messageId, customId: 'nope', userId: h!.user.id })).toThrow(/no button/);
  });

  it('refuses callback types that do not fit the interaction (no update for a slash command)', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'p' },
    });
    const interaction = await arriving;
    const err = await caught(
      client.rest.post(`/interactions/${interaction.id}/${interaction.token}/callback`, {
        body: { type: 7, data: { content: 'x' } },
        auth: false,
      }),
    );
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect((err as DiscordAPIError).code).toBe(50035);
  });

  it('round-trips a modal: showModal from a button, submitModal, ModalSubmitInteraction with the fields', async () => {
    h = await harness();
    const client = await h.login();
    const messageId = await replyWithButtons(h, client);
    const clicked = h.next<ButtonInteraction>(client);
    const click = h.discord.clickButton({ messageId, customId: 'job:1:character', userId: h.user.id });
    const button = await clicked;
    await button.showModal({
      custom_id: 'character:1',
      title: 'Use as character',
      components: [
        {
          type: ComponentType.ActionRow,
          components: [
            {
              type: ComponentType.TextInput,
              custom_id: 'prompt',
              label: 'Prompt',
              style: TextInputStyle.Paragraph,
              required: true,
              max_length: 2000,
            },
          ],
        },
        {
          type: ComponentType.ActionRow,
          components: [
            {
              type: ComponentType.TextInput,
              custom_id: 'timestamps',
              label: 'Seconds',
              style: TextInputStyle.Short,
              required: false,
              max_length: 32,
            },
          ],
        },
      ],
    });
    expect(click.modal?.title).toBe('Use as character');
    expect(() =>
      h!.discord.submitModal({ customId: 'character:1', userId: h!.user.id, fields: { timestamps: '1,3' } }),
    ).toThrow(/required/);

    const submitted = h.next<ModalSubmitInteraction>(client);
    h.discord.submitModal({
      customId: 'character:1',
      userId: h.user.id,
      fields: { prompt: 'the same corgi', timestamps: '1,3' },
    });
    const modal = await submitted;
    expect(modal.isModalSubmit()).toBe(true);
    expect(modal.customId).toBe('character:1');
    expect(modal.fields.getTextInputValue('prompt')).toBe('the same corgi');
    expect(modal.fields.getTextInputValue('timestamps')).toBe('1,3');
    expect(modal.message?.id).toBe(messageId);
    await modal.reply({ content: 'Started', flags: MessageFlags.Ephemeral });
    expect(h.discord.timeline(h.channel.id).at(-1)).toMatchObject({
      kind: 'create',
      ephemeral: true,
      content: 'Started',
    });
    expect(() =>
      h!.discord.submitModal({ customId: 'character:1', userId: h!.user.id, fields: { prompt: 'again' } }),
    ).toThrow(/no modal/);
  });

  it('round-trips autocomplete: the focused value as typed, and the choices the bot answers', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<AutocompleteInteraction>(client);
    const handle = h.discord.autocomplete({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'a corgi', character: 'cor' },
      focused: 'character',
    });
    const interaction = await arriving;
    expect(interaction.isAutocomplete()).toBe(true);
    expect(interaction.options.getFocused(true)).toMatchObject({ name: 'character', value: 'cor' });
    expect(interaction.options.getString('prompt')).toBe('a corgi');
    await interaction.respond([
      { name: '#12 · corgi surfing', value: '#12' },
      { name: '#9 · corgi skating', value: '#9' },
    ]);
    expect(await handle.choices()).toEqual([
      { name: '#12 · corgi surfing', value: '#12' },
      { name: '#9 · corgi skating', value: '#9' },
    ]);
  });

  it('refuses more than 25 autocomplete choices with 50035', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<AutocompleteInteraction>(client);
    const handle = h.discord.autocomplete({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: {},
      focused: 'character',
    });
    const interaction = await arriving;
    const many = Array.from({ length: 26 }, (_, i) => ({ name: `c${i}`, value: `v${i}` }));
    const err = await caught(interaction.respond(many));
    expect((err as DiscordAPIError).code).toBe(50035);
    expect(handle.ack).toBeNull();
  });
});
