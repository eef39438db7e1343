import {
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  InteractionContextType,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type ModalSubmitInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Clock } from '../clock.js';
import { ALL_DURATIONS, ALL_SIZES, DEFAULT_MODEL, MODELS } from '../services/capabilities.js';
import type { JobsRepository } from '../db/jobs-repository.js';
import type { CommandContext, Responder } from '../jobs/context.js';
import type { JobService } from '../jobs/job-service.js';
import { shorten } from '../ui/render.js';
import { PROMPT_MAX_LENGTH, type SoraOptions } from '../services/sora-request.js';
import { described, named } from './localize.js';
import type { SlashCommand } from './types.js';

/** Option names are fixed: tools outside the code rely on them. Their labels and descriptions are in the catalogue. */
export const soraCommandData = {
  name: 'sora',
  ...described('cmd.sora.description'),
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
  options: [
    {
      type: ApplicationCommandOptionType.String,
      ...named('cmd.sora.prompt'),
      ...described('cmd.sora.prompt.description'),
      required: true,
      max_length: PROMPT_MAX_LENGTH,
    },
    {
      type: ApplicationCommandOptionType.String,
      ...named('cmd.sora.model'),
      ...described('cmd.sora.model.description', { model: DEFAULT_MODEL }),
      choices: MODELS.map((m) => ({ name: m.id, value: m.id })),
    },
    {
      type: ApplicationCommandOptionType.Integer,
      ...named('cmd.sora.duration'),
      ...described('cmd.sora.duration.description'),
      choices: ALL_DURATIONS.map((d) => ({ ...named('job.value.seconds', { seconds: d }), value: d })),
    },
    {
      type: ApplicationCommandOptionType.String,
      ...named('cmd.sora.size'),
      ...described('cmd.sora.size.description'),
      choices: ALL_SIZES.map((s) => ({ name: s, value: s })),
    },
    {
      type: ApplicationCommandOptionType.Attachment,
      ...named('cmd.sora.image'),
      ...described('cmd.sora.image.description'),
    },
    {
      type: ApplicationCommandOptionType.String,
      ...named('cmd.sora.image_url'),
      ...described('cmd.sora.image_url.description'),
      max_length: 2000,
    },
    {
      type: ApplicationCommandOptionType.Boolean,
      ...named('cmd.sora.watermark'),
      ...described('cmd.sora.watermark.description'),
    },
    {
      type: ApplicationCommandOptionType.Boolean,
      ...named('cmd.sora.private'),
      ...described('cmd.sora.private.description'),
    },
    {
      type: ApplicationCommandOptionType.String,
      ...named('cmd.sora.character_url'),
      ...described('cmd.sora.character_url.description'),
      max_length: 2000,
    },
    {
      type: ApplicationCommandOptionType.String,
      ...named('cmd.sora.character_timestamps'),
      ...described('cmd.sora.character_timestamps.description'),
      max_length: 32,
    },
    {
      type: ApplicationCommandOptionType.String,
      ...named('cmd.sora.character_from_task'),
      ...described('cmd.sora.character_from_task.description'),
      max_length: 200,
      autocomplete: true,
    },
    {
      type: ApplicationCommandOptionType.Boolean,
      ...named('cmd.sora.character_create'),
      ...described('cmd.sora.character_create.description'),
    },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

/** Reads the options exactly as the member gave them. */
export function readSoraOptions(interaction: ChatInputCommandInteraction): SoraOptions {
  const o = interaction.options;
  const defined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  const attachment = o.getAttachment('image');
  return {
    prompt: o.getString('prompt', true),
    model: defined(o.getString('model')),
    duration: defined(o.getInteger('duration')),
    size: defined(o.getString('size')),
    image: attachment
      ? { name: attachment.name, contentType: attachment.contentType, size: attachment.size, url: attachment.url }
      : undefined,
    imageUrl: defined(o.getString('image_url')),
    watermark: defined(o.getBoolean('watermark')),
    private: defined(o.getBoolean('private')),
    characterUrl: defined(o.getString('character_url')),
    characterTimestamps: defined(o.getString('character_timestamps')),
    characterFromTask: defined(o.getString('character_from_task')),
    characterCreate: defined(o.getBoolean('character_create')),
  };
}

/** Adapts a discord.js interaction to the job service's Responder. */
export function interactionResponder(
  interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
): Responder {
  return {
    async defer() {
      await interaction.deferReply();
    },
    async edit(body) {
      const message = await interaction.editReply({
        content: body.content || null,
        embeds: body.embeds,
        components: body.components,
        allowedMentions: body.allowed_mentions,
      });
      return { messageId: message.id };
    },
  };
}

/**
 * The member's role ids as the interaction reports them, plus the server's
 * own id, which is the @everyone role's. A cached member (discord.js) lists
 * only roles the server still has; an uncached one is the raw payload.
 */
export function memberRoleIds(
  interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
): string[] {
  const member = interaction.member;
  if (!member || !interaction.guildId) return [];
  const ids = Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
  return [...new Set([...ids, interaction.guildId])];
}

/** What a job keeps of the interaction that started it (a command, a button or a modal). */
export function commandContext(
  interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
  clock: Clock,
): CommandContext {
  return {
    interactionId: interaction.id,
    applicationId: interaction.applicationId,
    token: interaction.token,
    guildId: interaction.guildId,
    channelId: interaction.channelId!,
    userId: interaction.user.id,
    memberRoleIds: memberRoleIds(interaction),
    locale: interaction.locale,
    attachmentSizeLimit: interaction.attachmentSizeLimit,
    // The token's 15 minutes run from Discord's timestamp, never later than now.
    receivedAt: Math.min(interaction.createdTimestamp, clock.now()),
  };
}

export function createSoraCommand(deps: { jobs: JobService; jobsRepo: JobsRepository; clock: Clock }): SlashCommand {
  return {
    data: soraCommandData,
    async execute(interaction) {
      await deps.jobs.start(
        commandContext(interaction, deps.clock),
        readSoraOptions(interaction),
        interactionResponder(interaction),
      );
    },
    async autocomplete(interaction) {
      const focused = interaction.options.getFocused(true);
      if (focused.name !== 'character_from_task') return interaction.respond([]);
      const jobs = deps.jobsRepo.searchCompleted(interaction.user.id, String(focused.value), 25);
      await interaction.respond(
        jobs
          .filter((job) => job.upstreamId!.length <= 100)
          .map((job) => ({
            name: shorten(`${job.prompt.replace(/\s+/g, ' ')} · ${job.upstreamId}`, 100),
            value: job.upstreamId!,
          })),
      );
    },
  };
}
