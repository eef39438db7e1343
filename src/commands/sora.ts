import {
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type ModalSubmitInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Clock } from '../clock.js';
import { ALL_DURATIONS, ALL_SIZES, MODELS } from '../services/capabilities.js';
import type { JobsRepository } from '../db/jobs-repository.js';
import type { CommandContext, JobService, Responder } from '../services/jobs.js';
import { shorten } from '../ui/render.js';
import { PROMPT_MAX_LENGTH, type SoraOptions } from '../services/sora-request.js';
import { zh } from './localize.js';
import type { SlashCommand } from './types.js';

/** Option names are fixed: tools outside the code rely on them. */
export const soraCommandData = {
  name: 'sora',
  description: 'Make a video with Sora',
  description_localizations: zh('用 Sora 生成视频'),
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
  options: [
    {
      type: ApplicationCommandOptionType.String,
      name: 'prompt',
      name_localizations: zh('提示词'),
      description: 'What the video shows',
      description_localizations: zh('视频的画面描述'),
      required: true,
      max_length: PROMPT_MAX_LENGTH,
    },
    {
      type: ApplicationCommandOptionType.String,
      name: 'model',
      name_localizations: zh('模型'),
      description: 'Video model (default sora-2)',
      description_localizations: zh('视频模型（默认 sora-2）'),
      choices: MODELS.map((m) => ({ name: m.id, value: m.id })),
    },
    {
      type: ApplicationCommandOptionType.Integer,
      name: 'duration',
      name_localizations: zh('时长'),
      description: 'Length in seconds (25 needs sora-2-pro)',
      description_localizations: zh('时长（秒，25 秒需要 sora-2-pro）'),
      choices: ALL_DURATIONS.map((d) => ({ name: `${d} s`, name_localizations: zh(`${d} 秒`), value: d })),
    },
    {
      type: ApplicationCommandOptionType.String,
      name: 'size',
      name_localizations: zh('尺寸'),
      description: 'Frame size (the last three need sora-2-pro)',
      description_localizations: zh('画面尺寸（后三种需要 sora-2-pro）'),
      choices: ALL_SIZES.map((s) => ({ name: s, value: s })),
    },
    {
      type: ApplicationCommandOptionType.Attachment,
      name: 'image',
      name_localizations: zh('图片'),
      description: 'A reference image (PNG, JPEG or WebP)',
      description_localizations: zh('参考图片（PNG、JPEG 或 WebP）'),
    },
    {
      type: ApplicationCommandOptionType.String,
      name: 'image_url',
      name_localizations: zh('图片链接'),
      description: 'A link to a reference image (instead of image)',
      description_localizations: zh('参考图片的链接（代替 图片）'),
      max_length: 2000,
    },
    {
      type: ApplicationCommandOptionType.Boolean,
      name: 'watermark',
      name_localizations: zh('水印'),
      description: 'Add a watermark (default: the server setting)',
      description_localizations: zh('添加水印（默认：服务器设置）'),
    },
    {
      type: ApplicationCommandOptionType.Boolean,
      name: 'private',
      name_localizations: zh('私有'),
      description: 'Keep the video out of the public gallery (default: the server setting)',
      description_localizations: zh('不在公共广场展示（默认：服务器设置）'),
    },
    {
      type: ApplicationCommandOptionType.String,
      name: 'character_url',
      name_localizations: zh('角色视频链接'),
      description: 'A video to take a non-human character from',
      description_localizations: zh('用于提取非真人角色的视频链接'),
      max_length: 2000,
    },
    {
      type: ApplicationCommandOptionType.String,
      name: 'character_timestamps',
      name_localizations: zh('角色时间段'),
      description: 'Where the character appears: start,end in seconds, 1–3 s (e.g. 1,3)',
      description_localizations: zh('角色出现的时间段：开始,结束（秒，1~3 秒，例如 1,3）'),
      max_length: 32,
    },
    {
      type: ApplicationCommandOptionType.String,
      name: 'character_from_task',
      name_localizations: zh('复用角色任务'),
      description: 'Reuse the character of one of your earlier videos',
      description_localizations: zh('复用你之前某个视频中的角色'),
      max_length: 200,
      autocomplete: true,
    },
    {
      type: ApplicationCommandOptionType.Boolean,
      name: 'character_create',
      name_localizations: zh('创建角色'),
      description: 'Create and review the character along with the video',
      description_localizations: zh('生成视频时同时创建并审核角色'),
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
    async refuse(message) {
      await interaction.reply({ content: message, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    },
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
    async withdraw(message) {
      await interaction.deleteReply().catch(() => undefined);
      await interaction.followUp({ content: message, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
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
