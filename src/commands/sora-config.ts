import {
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  ChannelType,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  type ApplicationCommandOptionAllowedChannelType,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Clock } from '../clock.js';
import type { JobsRepository } from '../db/jobs-repository.js';
import { UserFacingError } from '../errors.js';
import type { ModelCatalogue } from '../services/capabilities.js';
import type { ModelAvailability } from '../services/model-availability.js';
import {
  buildSettingsPatch,
  LIMIT_BOUNDS,
  utcDayStart,
  type SettingsChangeInput,
  type SettingsService,
} from '../services/settings.js';
import { t } from '../ui/i18n.js';
import { renderSettings } from '../ui/settings-view.js';
import { zh } from './localize.js';
import type { SlashCommand } from './types.js';

const TEXT_CHANNELS: ApplicationCommandOptionAllowedChannelType[] = [
  ChannelType.GuildText,
  ChannelType.GuildAnnouncement,
  ChannelType.GuildVoice,
  ChannelType.PublicThread,
  ChannelType.PrivateThread,
];

/** Subcommand and option names are fixed: tools outside the code rely on them. */
export const soraConfigCommandData = {
  name: 'sora-config',
  description: 'Server settings for /sora (Manage Server)',
  description_localizations: zh('/sora 的服务器设置（需要管理服务器权限）'),
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
  default_member_permissions: PermissionFlagsBits.ManageGuild.toString(),
  options: [
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: 'show',
      name_localizations: zh('查看'),
      description: 'Show the settings, today’s usage and recent changes',
      description_localizations: zh('查看设置、今日用量和最近的更改'),
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: 'set',
      name_localizations: zh('设置'),
      description: 'Change one or more settings',
      description_localizations: zh('更改一项或多项设置'),
      options: [
        {
          type: ApplicationCommandOptionType.Boolean,
          name: 'private',
          name_localizations: zh('私有'),
          description: 'Default for private videos',
          description_localizations: zh('私有视频的默认值'),
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          name: 'watermark',
          name_localizations: zh('水印'),
          description: 'Default for the watermark',
          description_localizations: zh('水印的默认值'),
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          name: 'lock_private',
          name_localizations: zh('锁定私有'),
          description: 'Members cannot change private',
          description_localizations: zh('成员不能更改私有设置'),
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          name: 'lock_watermark',
          name_localizations: zh('锁定水印'),
          description: 'Members cannot change the watermark',
          description_localizations: zh('成员不能更改水印设置'),
        },
        {
          type: ApplicationCommandOptionType.Integer,
          name: 'daily_limit',
          name_localizations: zh('每日上限'),
          description: 'Videos per member per UTC day (0 = unlimited)',
          description_localizations: zh('每位成员每个 UTC 日的视频数（0 = 不限）'),
          min_value: LIMIT_BOUNDS.dailyLimit.min,
          max_value: LIMIT_BOUNDS.dailyLimit.max,
        },
        {
          type: ApplicationCommandOptionType.Integer,
          name: 'max_active',
          name_localizations: zh('同时上限'),
          description: 'Unfinished videos per member at once (0 = unlimited)',
          description_localizations: zh('每位成员同时进行的视频数（0 = 不限）'),
          min_value: LIMIT_BOUNDS.maxActive.min,
          max_value: LIMIT_BOUNDS.maxActive.max,
        },
        {
          type: ApplicationCommandOptionType.String,
          name: 'allowed_models',
          name_localizations: zh('允许的模型'),
          // The models come from the catalogue, which may be long: `show` lists them, not this description.
          description: 'Comma-separated model ids (see /sora-config show)',
          description_localizations: zh('以逗号分隔的模型 ID（见 /sora-config 查看）'),
          max_length: 200,
        },
        {
          type: ApplicationCommandOptionType.Channel,
          name: 'add_channel',
          name_localizations: zh('添加频道'),
          description: 'Allow /sora in this channel (once any is added, only listed ones)',
          description_localizations: zh('允许在此频道使用 /sora（添加后仅限列出的频道）'),
          channel_types: TEXT_CHANNELS,
        },
        {
          type: ApplicationCommandOptionType.Channel,
          name: 'remove_channel',
          name_localizations: zh('移除频道'),
          description: 'Remove this channel from the allowed list',
          description_localizations: zh('从允许列表中移除此频道'),
          channel_types: TEXT_CHANNELS,
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          name: 'all_channels',
          name_localizations: zh('所有频道'),
          description: 'true: allow /sora in every channel again',
          description_localizations: zh('true：重新允许在所有频道使用 /sora'),
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: 'reset',
      name_localizations: zh('重置'),
      description: 'Back to the bot’s defaults',
      description_localizations: zh('恢复为机器人的默认设置'),
    },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

function readSetOptions(interaction: ChatInputCommandInteraction): SettingsChangeInput {
  const o = interaction.options;
  const input: SettingsChangeInput = {};
  const bools = [
    ['private', 'private'],
    ['watermark', 'watermark'],
    ['lock_private', 'lockPrivate'],
    ['lock_watermark', 'lockWatermark'],
    ['all_channels', 'allChannels'],
  ] as const;
  for (const [option, field] of bools) {
    const v = o.getBoolean(option);
    if (v !== null) input[field] = v;
  }
  const daily = o.getInteger('daily_limit');
  if (daily !== null) input.dailyLimit = daily;
  const active = o.getInteger('max_active');
  if (active !== null) input.maxActive = active;
  const models = o.getString('allowed_models');
  if (models !== null) input.allowedModels = models;
  const add = o.getChannel('add_channel');
  if (add) {
    if (!(TEXT_CHANNELS as readonly number[]).includes(add.type))
      throw new UserFacingError('config.channel_kind', { channel: `<#${add.id}>` });
    input.addChannel = add.id;
  }
  const remove = o.getChannel('remove_channel');
  if (remove) input.removeChannel = remove.id;
  return input;
}

export function createSoraConfigCommand(deps: {
  settings: SettingsService;
  jobs: JobsRepository;
  clock: Clock;
  catalogue: ModelCatalogue;
  availability?: ModelAvailability;
}): SlashCommand {
  const show = (interaction: ChatInputCommandInteraction, guildId: string) => {
    const now = deps.clock.now();
    return renderSettings(
      interaction.locale,
      deps.settings.effective(guildId),
      deps.jobs.guildUsage(guildId, utcDayStart(now)),
      deps.settings.history(guildId, 5),
      deps.availability?.problems(),
    );
  };
  return {
    data: soraConfigCommandData,
    async execute(interaction) {
      const guildId = interaction.guildId;
      if (!guildId || !interaction.inGuild()) throw new UserFacingError('error.guild_only');
      // default_member_permissions only hides the command; server admins can
      // loosen it, so the permission is checked again here.
      if (!interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild))
        throw new UserFacingError('error.no_permission');
      const locale = interaction.locale;
      const reply = (content: string) =>
        interaction.reply({
          content,
          embeds: [show(interaction, guildId)],
          flags: MessageFlags.Ephemeral,
          allowedMentions: { parse: [] },
        });
      switch (interaction.options.getSubcommand()) {
        case 'show':
          await reply('');
          return;
        case 'set': {
          const patch = buildSettingsPatch(
            deps.settings.effective(guildId),
            readSetOptions(interaction),
            deps.catalogue.ids(),
          );
          deps.settings.update(guildId, patch, interaction.user.id, deps.clock.now());
          await reply(t(locale, 'config.saved'));
          return;
        }
        case 'reset':
          deps.settings.reset(guildId, interaction.user.id, deps.clock.now());
          await reply(t(locale, 'config.reset_done'));
          return;
      }
    },
  };
}
