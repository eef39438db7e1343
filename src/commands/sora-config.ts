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
import { described, named } from './localize.js';
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
  ...named('cmd.sora-config.opt.role'),
  ...described('cmd.sora-config.opt.role.description'),
  required: true,
} as const;

const USER_OPTION = {
  type: ApplicationCommandOptionType.User,
  ...named('cmd.sora-config.opt.user'),
  ...described('cmd.sora-config.opt.user.description'),
  required: true,
} as const;

const TERM_OPTION = {
  type: ApplicationCommandOptionType.String,
  ...named('cmd.sora-config.opt.term'),
  ...described('cmd.sora-config.opt.term.description'),
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
  ...described('cmd.sora-config.description'),
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
  default_member_permissions: PermissionFlagsBits.ManageGuild.toString(),
  options: [
    {
      type: ApplicationCommandOptionType.Subcommand,
      ...named('cmd.sora-config.show'),
      ...described('cmd.sora-config.show.description'),
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      ...named('cmd.sora-config.set'),
      ...described('cmd.sora-config.set.description'),
      options: [
        {
          type: ApplicationCommandOptionType.Boolean,
          ...named('cmd.sora-config.set.private'),
          ...described('cmd.sora-config.set.private.description'),
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          ...named('cmd.sora-config.set.watermark'),
          ...described('cmd.sora-config.set.watermark.description'),
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          ...named('cmd.sora-config.set.lock_private'),
          ...described('cmd.sora-config.set.lock_private.description'),
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          ...named('cmd.sora-config.set.lock_watermark'),
          ...described('cmd.sora-config.set.lock_watermark.description'),
        },
        {
          type: ApplicationCommandOptionType.Integer,
          ...named('cmd.sora-config.set.daily_limit'),
          ...described('cmd.sora-config.set.daily_limit.description'),
          min_value: LIMIT_BOUNDS.dailyLimit.min,
          max_value: LIMIT_BOUNDS.dailyLimit.max,
        },
        {
          type: ApplicationCommandOptionType.Integer,
          ...named('cmd.sora-config.set.max_active'),
          ...described('cmd.sora-config.set.max_active.description'),
          min_value: LIMIT_BOUNDS.maxActive.min,
          max_value: LIMIT_BOUNDS.maxActive.max,
        },
        {
          type: ApplicationCommandOptionType.String,
          ...named('cmd.sora-config.set.allowed_models'),
          // The models come from the catalogue, which may be long: `show` lists them, not this description.
          ...described('cmd.sora-config.set.allowed_models.description'),
          max_length: 200,
        },
        {
          type: ApplicationCommandOptionType.Channel,
          ...named('cmd.sora-config.set.add_channel'),
          ...described('cmd.sora-config.set.add_channel.description'),
          channel_types: TEXT_CHANNELS,
        },
        {
          type: ApplicationCommandOptionType.Channel,
          ...named('cmd.sora-config.set.remove_channel'),
          ...described('cmd.sora-config.set.remove_channel.description'),
          channel_types: TEXT_CHANNELS,
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          ...named('cmd.sora-config.set.all_channels'),
          ...described('cmd.sora-config.set.all_channels.description'),
        },
        {
          type: ApplicationCommandOptionType.Integer,
          ...named('cmd.sora-config.set.server_daily_limit'),
          ...described('cmd.sora-config.set.server_daily_limit.description'),
          min_value: LIMIT_BOUNDS.serverDailyLimit.min,
          max_value: LIMIT_BOUNDS.serverDailyLimit.max,
        },
        {
          type: ApplicationCommandOptionType.Integer,
          ...named('cmd.sora-config.set.server_daily_credits'),
          ...described('cmd.sora-config.set.server_daily_credits.description'),
          min_value: LIMIT_BOUNDS.serverDailyCredits.min,
          max_value: LIMIT_BOUNDS.serverDailyCredits.max,
        },
        {
          type: ApplicationCommandOptionType.String,
          ...named('cmd.sora-config.set.costs'),
          ...described('cmd.sora-config.set.costs.description'),
          max_length: 500,
        },
        {
          type: ApplicationCommandOptionType.Channel,
          ...named('cmd.sora-config.set.log_channel'),
          ...described('cmd.sora-config.set.log_channel.description'),
          channel_types: TEXT_CHANNELS,
        },
        {
          type: ApplicationCommandOptionType.Boolean,
          ...named('cmd.sora-config.set.log_off'),
          ...described('cmd.sora-config.set.log_off.description'),
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      ...named('cmd.sora-config.reset'),
      ...described('cmd.sora-config.reset.description'),
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      ...named('cmd.sora-config.export'),
      ...described('cmd.sora-config.export.description'),
    },
    {
      type: ApplicationCommandOptionType.SubcommandGroup,
      ...named('cmd.sora-config.role'),
      ...described('cmd.sora-config.role.description'),
      options: [
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.role.allow'),
          ...described('cmd.sora-config.role.allow.description'),
          options: [ROLE_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.role.deny'),
          ...described('cmd.sora-config.role.deny.description'),
          options: [ROLE_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.role.set'),
          ...described('cmd.sora-config.role.set.description'),
          options: [
            ROLE_OPTION,
            {
              type: ApplicationCommandOptionType.Integer,
              ...named('cmd.sora-config.role.set.daily_limit'),
              ...described('cmd.sora-config.role.set.daily_limit.description'),
              min_value: LIMIT_BOUNDS.dailyLimit.min,
              max_value: LIMIT_BOUNDS.dailyLimit.max,
            },
            {
              type: ApplicationCommandOptionType.Integer,
              ...named('cmd.sora-config.role.set.max_active'),
              ...described('cmd.sora-config.role.set.max_active.description'),
              min_value: LIMIT_BOUNDS.maxActive.min,
              max_value: LIMIT_BOUNDS.maxActive.max,
            },
            {
              type: ApplicationCommandOptionType.String,
              ...named('cmd.sora-config.role.set.allowed_models'),
              ...described('cmd.sora-config.role.set.allowed_models.description'),
              max_length: 200,
            },
          ],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.role.clear'),
          ...described('cmd.sora-config.role.clear.description'),
          // Discord offers only existing roles, so a deleted role's rules are cleared by leaving this out.
          options: [{ ...ROLE_OPTION, required: false }],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.role.list'),
          ...described('cmd.sora-config.role.list.description'),
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.SubcommandGroup,
      ...named('cmd.sora-config.block'),
      ...described('cmd.sora-config.block.description'),
      options: [
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.block.add'),
          ...described('cmd.sora-config.block.add.description'),
          options: [
            USER_OPTION,
            {
              type: ApplicationCommandOptionType.String,
              ...named('cmd.sora-config.block.add.reason'),
              ...described('cmd.sora-config.block.add.reason.description'),
              max_length: BLOCK_REASON_MAX,
            },
          ],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.block.remove'),
          ...described('cmd.sora-config.block.remove.description'),
          options: [USER_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.block.list'),
          ...described('cmd.sora-config.block.list.description'),
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.SubcommandGroup,
      ...named('cmd.sora-config.filter'),
      ...described('cmd.sora-config.filter.description'),
      options: [
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.filter.add'),
          ...described('cmd.sora-config.filter.add.description'),
          options: [TERM_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.filter.remove'),
          ...described('cmd.sora-config.filter.remove.description'),
          options: [TERM_OPTION],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.filter.list'),
          ...described('cmd.sora-config.filter.list.description'),
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          ...named('cmd.sora-config.filter.clear'),
          ...described('cmd.sora-config.filter.clear.description'),
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
