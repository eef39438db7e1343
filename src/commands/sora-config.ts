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
import type { ControlsRepository, RoleRulePatch } from '../db/controls-repository.js';
import type { JobsRepository } from '../db/jobs-repository.js';
import type { SettingsRepository } from '../db/settings-repository.js';
import { UserFacingError } from '../errors.js';
import type { ModelCatalogue } from '../services/capabilities.js';
import { buildControlsExport } from '../services/controls-export.js';
import { costTable, defaultCost } from '../services/costs.js';
import type { ModelAvailability } from '../services/model-availability.js';
import type { ModLog } from '../services/mod-log.js';
import { compileTerm, FILTER_MAX_TERMS, FILTER_TERM_MAX_LENGTH } from '../services/prompt-filter.js';
import {
  buildSettingsPatch,
  checkBound,
  LIMIT_BOUNDS,
  parseModelList,
  utcDayStart,
  type SettingsChangeInput,
  type SettingsService,
} from '../services/settings.js';
import { t } from '../ui/i18n.js';
import {
  renderBlocks,
  renderFilter,
  renderRoleRules,
  renderSettings,
  showTerm,
  type ServiceSummary,
} from '../ui/settings-view.js';
import { zh } from './localize.js';
import type { SlashCommand } from './types.js';

const TEXT_CHANNELS: ApplicationCommandOptionAllowedChannelType[] = [
  ChannelType.GuildText,
  ChannelType.GuildAnnouncement,
  ChannelType.GuildVoice,
  ChannelType.PublicThread,
  ChannelType.PrivateThread,
];

const BLOCK_REASON_MAX = 200;

const ROLE_OPTION = {
  type: ApplicationCommandOptionType.Role,
  name: 'role',
  name_localizations: zh('身份组'),
  description: 'The role',
  description_localizations: zh('身份组'),
  required: true,
} as const;

const USER_OPTION = {
  type: ApplicationCommandOptionType.User,
  name: 'user',
  name_localizations: zh('成员'),
  description: 'The member',
  description_localizations: zh('成员'),
  required: true,
} as const;

const TERM_OPTION = {
  type: ApplicationCommandOptionType.String,
  name: 'term',
  name_localizations: zh('词语'),
  description: 'A word or phrase; Chinese, Japanese and Korean match anywhere',
  description_localizations: zh('一个词或短语；中文、日文、韩文在任意位置匹配'),
  required: true,
  max_length: FILTER_TERM_MAX_LENGTH,
} as const;

/**
 * Subcommand and option names are fixed: tools outside the code rely on them.
 * Discord lets subcommand groups stand beside plain subcommands at the top
 * level (a group holds only subcommands), so `show`/`set` and `role …` live
 * in one command.
 */
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
        {
          type: ApplicationCommandOptionType.Integer,
          name: 'server_daily_limit',
          name_localizations: zh('服务器每日上限'),
          description: 'Videos per UTC day for the whole server (0 = unlimited)',
          description_localizations: zh('整个服务器每个 UTC 日的视频数（0 = 不限）'),
          min_value: LIMIT_BOUNDS.serverDailyLimit.min,
          max_value: LIMIT_BOUNDS.serverDailyLimit.max,
        },
        {
          type: ApplicationCommandOptionType.Integer,
          name: 'server_daily_credits',
          name_localizations: zh('服务器每日积分'),
          description: 'Credits per UTC day for the whole server (0 = unlimited)',
          description_localizations: zh('整个服务器每个 UTC 日的积分（0 = 不限）'),
          min_value: LIMIT_BOUNDS.serverDailyCredits.min,
          max_value: LIMIT_BOUNDS.serverDailyCredits.max,
        },
        {
          type: ApplicationCommandOptionType.String,
          name: 'costs',
          name_localizations: zh('费用'),
          description: 'Credits per video, e.g. sora-2=10, sora-2-pro:25=80 (or: default)',
          description_localizations: zh('每个视频的积分，例如 sora-2=10, sora-2-pro:25=80（或 default）'),
          max_length: 500,
        },
        {
          type: ApplicationCommandOptionType.Channel,
          name: 'log_channel',
          name_localizations: zh('日志频道'),
          description: 'Post the moderator log here',
          description_localizations: zh('在此频道发布管理日志'),
          channel_types: TEXT_CHANNELS,
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          name: 'log_off',
          name_localizations: zh('关闭日志'),
          description: 'true: stop the moderator log',
          description_localizations: zh('true：停止管理日志'),
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: 'reset',
      name_localizations: zh('重置'),
      description: 'Settings back to the bot’s defaults (role rules, blocks, filter are kept)',
      description_localizations: zh('设置恢复为默认值（保留身份组规则、封禁和过滤）'),
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: 'export',
      name_localizations: zh('导出'),
      description: 'Settings, roles, blocks, filter and history as a JSON file',
      description_localizations: zh('以 JSON 文件导出设置、身份组、封禁、过滤和历史'),
    },
    {
      type: ApplicationCommandOptionType.SubcommandGroup,
      name: 'role',
      name_localizations: zh('身份组'),
      description: 'Which roles may use /sora, and their own limits',
      description_localizations: zh('哪些身份组可以使用 /sora，以及它们的限制'),
      options: [
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'allow',
          name_localizations: zh('允许'),
          description: 'This role may use /sora (once any is allowed, only allowed roles may)',
          description_localizations: zh('此身份组可以使用 /sora（设置后仅允许的身份组可用）'),
          options: [ROLE_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'deny',
          name_localizations: zh('禁止'),
          description: 'Members with this role may not use /sora',
          description_localizations: zh('拥有此身份组的成员不能使用 /sora'),
          options: [ROLE_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'set',
          name_localizations: zh('设置'),
          description: 'Limits and models for this role (the most generous of a member’s roles wins)',
          description_localizations: zh('此身份组的限制和模型（成员取其身份组中最宽松的值）'),
          options: [
            ROLE_OPTION,
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
              description: 'Comma-separated model ids (see /sora-config show)',
              description_localizations: zh('以逗号分隔的模型 ID（见 /sora-config 查看）'),
              max_length: 200,
            },
          ],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'clear',
          name_localizations: zh('清除'),
          description: 'Remove every rule of a role; without a role, the rules of deleted roles',
          description_localizations: zh('移除某个身份组的所有规则；不选身份组则移除已删除身份组的规则'),
          // Discord offers only existing roles, so a deleted role's rules are cleared by leaving this out.
          options: [{ ...ROLE_OPTION, required: false }],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'list',
          name_localizations: zh('列表'),
          description: 'Show the role rules',
          description_localizations: zh('查看身份组规则'),
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.SubcommandGroup,
      name: 'block',
      name_localizations: zh('封禁'),
      description: 'Keep members from using /sora',
      description_localizations: zh('禁止成员使用 /sora'),
      options: [
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'add',
          name_localizations: zh('添加'),
          description: 'Block a member from /sora',
          description_localizations: zh('禁止某位成员使用 /sora'),
          options: [
            USER_OPTION,
            {
              type: ApplicationCommandOptionType.String,
              name: 'reason',
              name_localizations: zh('原因'),
              description: 'Shown to the member, privately, when they try',
              description_localizations: zh('成员尝试使用时会私下看到'),
              max_length: BLOCK_REASON_MAX,
            },
          ],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'remove',
          name_localizations: zh('移除'),
          description: 'Let a blocked member use /sora again',
          description_localizations: zh('允许被封禁的成员再次使用 /sora'),
          options: [USER_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'list',
          name_localizations: zh('列表'),
          description: 'Show blocked members',
          description_localizations: zh('查看被封禁的成员'),
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.SubcommandGroup,
      name: 'filter',
      name_localizations: zh('过滤'),
      description: 'Words and phrases /sora refuses',
      description_localizations: zh('/sora 拒绝的词语'),
      options: [
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'add',
          name_localizations: zh('添加'),
          description: 'Refuse prompts with this word or phrase (word*, *word, *word* for parts)',
          description_localizations: zh('拒绝包含此词语的提示词（部分匹配用 word*、*word、*word*）'),
          options: [TERM_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'remove',
          name_localizations: zh('移除'),
          description: 'Remove a word or phrase from the filter',
          description_localizations: zh('从过滤中移除一个词语'),
          options: [TERM_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'list',
          name_localizations: zh('列表'),
          description: 'Show the filter',
          description_localizations: zh('查看过滤列表'),
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: 'clear',
          name_localizations: zh('清空'),
          description: 'Remove every word and phrase from the filter',
          description_localizations: zh('清空过滤列表'),
        },
      ],
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
    ['log_off', 'logOff'],
  ] as const;
  for (const [option, field] of bools) {
    const v = o.getBoolean(option);
    if (v !== null) input[field] = v;
  }
  const ints = [
    ['daily_limit', 'dailyLimit'],
    ['max_active', 'maxActive'],
    ['server_daily_limit', 'serverDailyLimit'],
    ['server_daily_credits', 'serverDailyCredits'],
  ] as const;
  for (const [option, field] of ints) {
    const v = o.getInteger(option);
    if (v !== null) input[field] = v;
  }
  const models = o.getString('allowed_models');
  if (models !== null) input.allowedModels = models;
  const costs = o.getString('costs');
  if (costs !== null) input.costs = costs;
  const textChannel = (option: 'add_channel' | 'log_channel') => {
    const channel = o.getChannel(option);
    if (!channel) return undefined;
    if (!(TEXT_CHANNELS as readonly number[]).includes(channel.type))
      throw new UserFacingError('config.channel_kind', { channel: `<#${channel.id}>` });
    return channel.id;
  };
  const add = textChannel('add_channel');
  if (add) input.addChannel = add;
  const remove = o.getChannel('remove_channel');
  if (remove) input.removeChannel = remove.id;
  const logChannel = textChannel('log_channel');
  if (logChannel) input.logChannel = logChannel;
  return input;
}

/** The bot must be able to post where its log goes; checked from the gateway's cache when it has the channel. */
function checkLogChannelAccess(interaction: ChatInputCommandInteraction, channelId: string): void {
  const me = interaction.guild?.members.me;
  if (!me) return;
  let permissions;
  try {
    permissions = me.permissionsIn(channelId);
  } catch {
    return; // not in the cache: Discord will say at the first post, and the log says so
  }
  if (!permissions.has([PermissionFlagsBits.ViewChannel, PermissionFlagsBits.SendMessages]))
    throw new UserFacingError('config.log_no_access', { channel: `<#${channelId}>` });
}

function readRolePatch(interaction: ChatInputCommandInteraction, knownModels: readonly string[]): RoleRulePatch {
  const o = interaction.options;
  const patch: RoleRulePatch = {};
  const daily = o.getInteger('daily_limit');
  if (daily !== null) patch.dailyLimit = checkBound(daily, 'daily_limit', LIMIT_BOUNDS.dailyLimit);
  const active = o.getInteger('max_active');
  if (active !== null) patch.maxActive = checkBound(active, 'max_active', LIMIT_BOUNDS.maxActive);
  const models = o.getString('allowed_models');
  if (models !== null) patch.allowedModels = parseModelList(models, knownModels);
  if (Object.keys(patch).length === 0) throw new UserFacingError('config.role_nothing');
  return patch;
}

export interface SoraConfigDeps {
  settings: SettingsService;
  settingsRepo: SettingsRepository;
  controls: ControlsRepository;
  jobs: JobsRepository;
  clock: Clock;
  /** Settings changes go to the moderator log too. */
  modLog?: Pick<ModLog, 'record'>;
  /** The bot's video service as a whole (the line's pause), shown at the top of `show`. */
  service?: () => ServiceSummary;
  /** The models members may be allowed (allowed_models, costs). */
  catalogue: ModelCatalogue;
  /** What the provider says about them (its list, refused models), for `show`. */
  availability?: Pick<ModelAvailability, 'problems'>;
}

export function createSoraConfigCommand(deps: SoraConfigDeps): SlashCommand {
  const knownModels = deps.catalogue.ids();
  const show = (locale: string, guildId: string) => {
    const now = deps.clock.now();
    const dayStart = utcDayStart(now);
    const settings = deps.settings.effective(guildId);
    const usage = deps.jobs.guildUsage(guildId, dayStart);
    const lookup = deps.settings.costLookup(settings);
    return renderSettings(
      locale,
      settings,
      { started: usage.started, active: usage.active },
      deps.settings.history(guildId, 5),
      {
        credits: usage.credits,
        resetAt: dayStart + 86_400_000,
        costs: costTable(lookup, deps.catalogue.models).map((c) => ({
          ...c,
          changed: c.credits !== defaultCost(c.model, c.seconds),
        })),
        roleRules: deps.controls.roleRules(guildId).length,
        blocks: deps.controls.blocks(guildId).length,
        filterTerms: deps.controls.countFilterTerms(guildId),
        refusals: deps.controls.refusalCounts(guildId, dayStart),
      },
      deps.service?.(),
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
      const userId = interaction.user.id;
      const now = deps.clock.now();
      const privately = (content: string, embeds = [show(locale, guildId)]) =>
        interaction.reply({ content, embeds, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
      /** A change for the moderator log; `channelId` when it must go where the log was before the change. */
      const logged = (changes: Record<string, unknown>, channelId?: string | null) =>
        deps.modLog?.record(
          guildId,
          { kind: 'settings', at: now, userId, changes },
          channelId !== undefined ? { channelId } : {},
        );
      const o = interaction.options;
      const group = o.getSubcommandGroup(false);
      const sub = o.getSubcommand();

      if (group === 'role') {
        if (sub === 'list') {
          const guild = interaction.guild;
          await privately('', [
            renderRoleRules(locale, deps.controls.roleRules(guildId), (id) =>
              guild ? guild.roles.cache.has(id) : undefined,
            ),
          ]);
          return;
        }
        if (sub === 'clear' && !o.getRole('role')) {
          const guild = interaction.guild;
          const gone = guild ? deps.controls.roleRules(guildId).filter((r) => !guild.roles.cache.has(r.roleId)) : [];
          for (const r of gone) deps.controls.clearRoleRule(guildId, r.roleId, userId, now);
          if (gone.length > 0) logged({ role: gone.map((r) => r.roleId), cleared: true });
          await privately(t(locale, 'config.roles_pruned', { n: gone.length }), [
            renderRoleRules(locale, deps.controls.roleRules(guildId), () => undefined),
          ]);
          return;
        }
        const roleId = o.getRole('role', true).id;
        const role = `<@&${roleId}>`;
        if (sub === 'clear') {
          const removed = deps.controls.clearRoleRule(guildId, roleId, userId, now);
          if (removed) logged({ role: roleId, cleared: true });
          await privately(t(locale, removed ? 'config.role_cleared' : 'config.role_none', { role }), [
            renderRoleRules(locale, deps.controls.roleRules(guildId), () => undefined),
          ]);
          return;
        }
        const patch: RoleRulePatch =
          sub === 'allow'
            ? { access: 'allow' }
            : sub === 'deny'
              ? { access: 'deny' }
              : readRolePatch(interaction, knownModels);
        deps.controls.updateRoleRule(guildId, roleId, patch, userId, now);
        logged({ role: roleId, ...patch });
        await privately(t(locale, 'config.role_saved', { role }), [
          renderRoleRules(locale, deps.controls.roleRules(guildId), () => undefined),
        ]);
        return;
      }

      if (group === 'block') {
        if (sub === 'list') {
          await privately('', [renderBlocks(locale, deps.controls.blocks(guildId))]);
          return;
        }
        const member = o.getUser('user', true).id;
        if (sub === 'add') {
          const reason = o.getString('reason')?.trim() || null;
          deps.controls.addBlock(guildId, member, reason, userId, now);
          logged({ block: member });
          const message = reason ? t(locale, 'sora.blocked_reason', { reason }) : t(locale, 'sora.blocked');
          await privately(t(locale, 'config.block_saved', { user: `<@${member}>`, message }), []);
          return;
        }
        const removed = deps.controls.removeBlock(guildId, member, userId, now);
        if (removed) logged({ unblock: member });
        await privately(
          t(locale, removed ? 'config.block_removed' : 'config.block_none', { user: `<@${member}>` }),
          [],
        );
        return;
      }

      if (group === 'filter') {
        if (sub === 'list') {
          await privately('', [renderFilter(locale, deps.controls.filterTerms(guildId))]);
          return;
        }
        if (sub === 'clear') {
          const n = deps.controls.clearFilter(guildId, userId, now);
          if (n > 0) logged({ filter: 'cleared' });
          await privately(t(locale, 'config.filter_cleared', { n }), []);
          return;
        }
        const compiled = compileTerm(o.getString('term', true));
        const term = showTerm(compiled.term);
        if (sub === 'add') {
          const outcome = deps.controls.addFilterTerm(
            guildId,
            compiled.key,
            compiled.term,
            FILTER_MAX_TERMS,
            userId,
            now,
          );
          if (outcome === 'full') throw new UserFacingError('config.filter_full', { max: FILTER_MAX_TERMS });
          // The log is read by more eyes than the filter list: it counts terms, never names them.
          if (outcome === 'added') logged({ filter: `+1 (${deps.controls.countFilterTerms(guildId)})` });
          await privately(
            t(locale, outcome === 'added' ? 'config.filter_added' : 'config.filter_exists', { term }),
            [],
          );
          return;
        }
        const removed = deps.controls.removeFilterTerm(guildId, compiled.key, userId, now);
        if (removed) logged({ filter: `-1 (${deps.controls.countFilterTerms(guildId)})` });
        await privately(t(locale, removed ? 'config.filter_removed' : 'config.filter_missing', { term }), []);
        return;
      }

      switch (sub) {
        case 'show':
          await privately('');
          return;
        case 'set': {
          const before = deps.settings.effective(guildId);
          const patch = buildSettingsPatch(before, readSetOptions(interaction), knownModels, deps.catalogue.models);
          if (patch.logChannel) checkLogChannelAccess(interaction, patch.logChannel);
          const after = deps.settings.update(guildId, patch, userId, now);
          // Turning the log off is still said in the channel it leaves.
          logged(patch, after.logChannel ?? before.logChannel);
          await privately(t(locale, 'config.saved'));
          return;
        }
        case 'reset': {
          const before = deps.settings.effective(guildId);
          deps.settings.reset(guildId, userId, now);
          logged({ reset: true }, before.logChannel);
          await privately(t(locale, 'config.reset_done'));
          return;
        }
        case 'export': {
          const json = buildControlsExport(
            { settings: deps.settings, settingsRepo: deps.settingsRepo, controls: deps.controls },
            guildId,
            now,
            deps.jobs.guildUsage(guildId, utcDayStart(now)),
            deps.catalogue.models,
          );
          const day = new Date(now).toISOString().slice(0, 10);
          await interaction.reply({
            content: t(locale, 'config.export_done'),
            files: [{ attachment: Buffer.from(json, 'utf8'), name: `sora-config-${guildId}-${day}.json` }],
            flags: MessageFlags.Ephemeral,
            allowedMentions: { parse: [] },
          });
          return;
        }
      }
    },
  };
}
