/** Public types of the Discord emulator's control API. */
import type { Clock } from '../../src/clock.js';
import type { GatewayStats } from './gateway.js';
import type { GlobalRateLimitOptions, InvalidRequestOptions, OldMessageEditOptions } from './limits.js';
import type { RateLimitOptions, RouteKey } from './rate-limit.js';
import type { AutocompleteChoice, ModalData } from './validate.js';

export type { FaultSpec, RateLimitOptions, RouteKey, BucketSpec, RequestTarget } from './rate-limit.js';
export type { GatewayLogEntry, GatewayStats } from './gateway.js';
export type {
  GlobalRateLimitOptions,
  InvalidRequestOptions,
  InvalidRequestState,
  OldMessageEditOptions,
} from './limits.js';
export type { SpecError, SpecViolation } from './openapi.js';
export type { AutocompleteChoice, ModalData } from './validate.js';
export type { StoredCommand, CommandOption } from './commands.js';

export interface DiscordEmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Interaction ages, token lifetimes, ids and timestamps all read this clock. */
  clock?: Clock;
  /** The only token accepted on bot routes and by IDENTIFY; random when unset. */
  botToken?: string;
  /** Random snowflake when unset. */
  applicationId?: string;
  /** Defaults to the application id, as for every app made since 2020. */
  botUserId?: string;
  botUsername?: string;
  /** How long interaction tokens work on webhook routes; Discord: 15 minutes. */
  tokenLifetimeMs?: number;
  /** How long an interaction waits for its first callback; Discord: 3 seconds. */
  ackWindowMs?: number;
  /** Real per-route buckets; off when unset (no `X-RateLimit-*` headers except on injected 429s). */
  rateLimit?: RateLimitOptions;
  /** Upload limit of new guilds (channel routes, and the default `attachment_size_limit`); 10 MiB. */
  defaultUploadLimitBytes?: number;
  /** How long signed CDN URLs stay valid; Discord: 24 hours. */
  attachmentUrlLifetimeMs?: number;
  /** How long `enforce_nonce` remembers a nonce; Discord says "a few minutes". Default 3 minutes. */
  nonceWindowMs?: number;
  /** HELLO's heartbeat interval; Discord: 41,250 ms. */
  heartbeatIntervalMs?: number;
  /** Privileged intent bits the app may request (GuildMembers, GuildPresences, MessageContent); none by default. */
  privilegedIntents?: number;
  /** Bodies above this are refused with 413 before parsing; default 512 MiB. */
  maxRequestBytes?: number;
  /**
   * How fast request bodies are read, in bytes per second (real time, not
   * the emulator clock): the bot's uplink as Discord sees it. `default`
   * applies to every request and is one link shared by all of them;
   * `perChannel` gives requests about a channel (channel routes, and the
   * interaction webhook routes of interactions from it) a link of their own.
   * Unlimited by default.
   */
  uploadBandwidth?: { default?: number; perChannel?: Record<string, number> };
  /**
   * Discord's global limit per bot token (50 requests per second);
   * interaction callbacks and interaction webhook routes are exempt. On by
   * default; `false` turns it off.
   */
  globalRateLimit?: GlobalRateLimitOptions | false;
  /** The cap on edits of messages older than an hour (429 / 30046). On by default; `false` turns it off. */
  oldMessageEdits?: OldMessageEditOptions | false;
  /** Invalid-request counting and the Cloudflare ban above 10,000 per 10 minutes. On by default; `false` turns it off. */
  invalidRequests?: InvalidRequestOptions | false;
  /** Whether threads archive after `auto_archive_duration` minutes without a new message (emulator clock). Default true. */
  threadAutoArchive?: boolean;
  /**
   * Checks every request body against Discord's OpenAPI description
   * (violations: 400 / 50035, and `specViolations()`). Default: on when
   * running under vitest, off otherwise. `specPath` defaults to
   * `../shared/facts/discord-openapi.json` from the project root.
   */
  openApiValidation?: boolean | { specPath?: string };
  /** Gateway sharding. */
  sharding?: ShardingOptions;
}

export interface ShardingOptions {
  /**
   * `shards` in `GET /gateway/bot`; default ceil(guilds / `guildsPerShard`),
   * at least 1, as Discord recommends about one shard per 1,000 guilds.
   */
  recommendedShards?: number;
  /** Default 1,000. */
  guildsPerShard?: number;
  /**
   * A session that would hold more guilds than this is closed with 4011
   * Sharding required; Discord: 2,500 ("Each shard can only support a maximum
   * of 2500 guilds", developers/events/gateway#sharding).
   */
  maxGuildsPerShard?: number;
  /** `session_start_limit.max_concurrency`: identifies per 5 s bucket. Default 1. */
  maxConcurrency?: number;
}

/** One permission overwrite of a channel: a role (the guild id is @everyone) or a member. */
export interface PermissionOverwriteSpec {
  id: string;
  type: 'role' | 'member';
  /** Decimal bitfield strings. */
  allow?: string;
  deny?: string;
}

export interface ChannelInfo {
  id: string;
  guildId: string;
  name: string;
  type: number;
  /** Threads: their channel. */
  parentId: string | null;
}

export interface GuildInfo {
  id: string;
  name: string;
  ownerId: string;
  locale: string;
  premiumTier: 0 | 1 | 2 | 3;
  /** Upload limit on channel routes and the default `attachment_size_limit`. */
  uploadLimitBytes: number;
  /** Live: channels created later are appended. */
  channels: ChannelInfo[];
  everyoneRoleId: string;
  /** The bot's managed role (for role overwrites that target the bot). */
  botRoleId: string;
}

export interface UserInfo {
  id: string;
  username: string;
  globalName: string | null;
  locale: string;
  premiumType: 0 | 1 | 2 | 3;
}

export interface CreateGuildOptions {
  id?: string;
  name?: string;
  /** Owner user id; a new user is created when unset. */
  ownerId?: string;
  /** `preferred_locale` (the interaction's `guild_locale`). Default en-US. */
  locale?: string;
  /** 0–1: 10 MiB, 2: 50 MiB, 3: 100 MiB upload limit. */
  premiumTier?: 0 | 1 | 2 | 3;
  /** Overrides the tier's upload limit. */
  uploadLimitBytes?: number;
  /** Name of the text channel every new guild gets; default `general`. */
  defaultChannelName?: string;
}

export interface CreateChannelOptions {
  name?: string;
  /**
   * The bot's permissions in this channel (decimal bitfield). Missing
   * VIEW_CHANNEL gives 50001 on channel routes, missing SEND_MESSAGES or
   * ATTACH_FILES gives 50013 on posts. Default: the bot's role permissions.
   * Stored as a member overwrite for the bot.
   */
  botPermissions?: string;
  /** Overwrites as a server admin sets them (applied the documented way, with the bot's roles). */
  permissionOverwrites?: PermissionOverwriteSpec[];
}

export interface CreateThreadOptions {
  name?: string;
  /** 11 public (default) or 12 private thread. */
  type?: 11 | 12;
  /** Who started it; default the guild owner. */
  ownerId?: string;
  /** Other thread members. */
  memberIds?: string[];
  /** Whether the bot has joined (private threads are invisible to it otherwise, unless it may manage threads). Default true. */
  botIsMember?: boolean;
  /** 60, 1440 (default), 4320 or 10080. */
  autoArchiveDurationMinutes?: 60 | 1440 | 4320 | 10080;
  archived?: boolean;
  locked?: boolean;
  /** Private threads: whether non-moderators can add others. */
  invitable?: boolean;
}

export interface ThreadUpdate {
  archived?: boolean;
  locked?: boolean;
  name?: string;
  autoArchiveDurationMinutes?: 60 | 1440 | 4320 | 10080;
}

/** A role made with `createRole`; `permissions` is a decimal bitfield string as Discord sends it. */
export interface RoleInfo {
  id: string;
  name: string;
  permissions: string;
}

export interface CreateUserOptions {
  username?: string;
  globalName?: string | null;
  /** The Discord client language, used as the interaction's `locale`. Default en-US. */
  locale?: string;
  /** Member permissions (decimal bitfield) in the guilds joined; default @everyone's. */
  permissions?: string;
  /** Guilds to join; default every guild that exists now. */
  guildIds?: string[];
  /** Nitro: 0 none (default), 1 Classic, 2 Nitro (500 MiB uploads), 3 Basic (50 MiB). Raises `attachment_size_limit`. */
  premiumType?: 0 | 1 | 2 | 3;
}

export type OptionValue = string | number | boolean;

interface InteractionBase {
  userId: string;
  /** The user's client language; default the user's locale. */
  locale?: string;
  /** Member permissions sent with this interaction (decimal bitfield), overriding the member's. */
  permissions?: string;
  /** `attachment_size_limit`; default the larger of the guild's upload limit and the user's Nitro limit. */
  attachmentSizeLimit?: number;
  /** Use this token instead of a generated one (e.g. with characters clients must percent-encode). */
  token?: string;
}

export interface UserAttachment {
  filename: string;
  contentType?: string;
  data: Buffer;
}

export interface SlashCommandInvocation extends InteractionBase {
  guildId: string;
  channelId: string;
  /** A registered chat-input command (guild scope first, then global). */
  name: string;
  subcommandGroup?: string;
  subcommand?: string;
  /**
   * Option values by name, typed by the registered definition. User,
   * channel, role and mentionable options take ids; attachment options take
   * the filename of one of `attachments`.
   */
  options?: Record<string, OptionValue>;
  /** Files the user attached; served from the emulator CDN with signed, expiring URLs. */
  attachments?: UserAttachment[];
  /**
   * Discord hides a command from members without its
   * `default_member_permissions`; an admin can override that in the server
   * settings. True simulates such an override.
   */
  permissionOverride?: boolean;
}

export interface AutocompleteInvocation extends InteractionBase {
  guildId: string;
  channelId: string;
  name: string;
  subcommandGroup?: string;
  subcommand?: string;
  /** Values typed so far; the focused one is sent as the raw string typed. */
  options?: Record<string, OptionValue>;
  /** Name of the option being typed in. */
  focused: string;
}

export interface ButtonClick extends InteractionBase {
  messageId: string;
  customId: string;
}

export interface ModalSubmission extends InteractionBase {
  customId: string;
  /** Text input values by custom_id. */
  fields: Record<string, string>;
  /** The interaction that showed the modal; default the last modal with this custom_id shown to the user. */
  from?: InteractionHandle;
}

export interface Acknowledgement {
  /** Callback type: 4 reply, 5 deferred, 6 deferred update, 7 update, 8 autocomplete, 9 modal. */
  type: number;
  /** Emulator clock time of the callback. */
  at: number;
  /** Milliseconds from interaction creation (emulator clock). */
  afterMs: number;
}

export interface CallbackRecord {
  type: number;
  data: unknown;
  at: number;
}

export interface RefusedCallback {
  at: number;
  status: number;
  code: number;
}

export type InteractionKind = 'command' | 'component' | 'modal' | 'autocomplete';

export interface InteractionHandle {
  readonly id: string;
  readonly token: string;
  readonly kind: InteractionKind;
  /** The INTERACTION_CREATE `d` as dispatched. */
  readonly payload: Record<string, unknown>;
  /** Emulator clock time the user acted. */
  readonly createdAt: number;
  /**
   * `performance.now()` of the emulator's process when the user acted: a
   * sub-millisecond time for latency figures (with `RecordedRequest.arrivedHr`);
   * `createdAt` is whole milliseconds, or a simulated clock.
   */
  readonly createdHr: number;
  /** Gateway sessions it was sent to or buffered for; 0 means no bot could receive it. */
  readonly deliveredTo: number;
  readonly ack: Acknowledgement | null;
  /** The accepted callback. */
  readonly response: CallbackRecord | null;
  /** Callbacks Discord refused (late, second acknowledgement…). */
  readonly callbackErrors: readonly RefusedCallback[];
  /** `@original`, once there is one. */
  readonly originalMessageId: string | null;
  readonly followUpIds: readonly string[];
  /** The modal shown in answer (callback type 9). */
  readonly modal: ModalData | null;
  /** Resolves at the first accepted callback; rejects after `timeoutMs` real milliseconds (default 5000). */
  acknowledged(timeoutMs?: number): Promise<Acknowledgement>;
  /** Autocomplete only: resolves with the choices the bot answered. */
  choices(timeoutMs?: number): Promise<AutocompleteChoice[]>;
}

export interface TimelineAttachment {
  id: string;
  filename: string;
  size: number;
  sha256: string;
  content_type: string | null;
}

/** What a member of the channel would see after one change. */
export interface TimelineEntry {
  seq: number;
  /** Emulator clock time. */
  at: number;
  kind: 'create' | 'edit' | 'delete';
  channelId: string;
  messageId: string;
  authorId: string;
  content: string;
  embeds: unknown[];
  attachments: TimelineAttachment[];
  components: unknown[];
  flags: number;
  ephemeral: boolean;
  /** For ephemeral messages, the only user who sees it. */
  visibleTo: string | null;
  /** The "Bot is thinking…" state of a deferred reply. */
  loading: boolean;
  /** For edits: whether anything a member sees changed (content, embeds, components, attachments, flags). */
  changed: boolean;
  via: 'callback' | 'webhook' | 'channel' | 'control';
  interactionId: string | null;
}

export interface RecordedFile {
  field: string;
  filename: string;
  size: number;
  sha256: string;
  contentType: string | null;
}

export interface RecordedRequest {
  seq: number;
  /** Emulator clock time of arrival. */
  at: number;
  /** `performance.now()` of the emulator's process at arrival (sub-millisecond, real time): for latency figures. */
  arrivedHr: number;
  method: string;
  route: RouteKey | 'unknown';
  /** Path with interaction tokens replaced by `:token`. */
  path: string;
  query: string;
  status: number;
  /** Whether the bot token was sent and right; never the token itself. */
  auth: 'bot' | 'invalid' | 'missing';
  channelId?: string;
  messageId?: string;
  interactionId?: string;
  /** Discord error code answered, if any. */
  code?: number;
  /** Why the answer was a limit or an error the emulator was told to give. */
  fault?: 'injected' | 'rate_limit' | 'global_rate_limit' | 'old_message_edit' | 'banned' | 'spec_violation';
  /** The client went away before its body was read (timeout, abort); no answer was sent. */
  aborted?: boolean;
  /** Client IP (the key of the invalid-request counter). */
  ip?: string;
  /** The JSON body or `payload_json`. */
  json?: unknown;
  files: RecordedFile[];
  bodyBytes: number;
}

export interface EmulatorStats {
  requests: number;
  byRoute: Partial<Record<RouteKey | 'unknown', number>>;
  byStatus: Record<string, number>;
  status429: number;
  status5xx: number;
  /** 401, 403 and non-shared 429 answers: what counts toward Discord's 10,000 per 10 minutes. */
  invalidRequests: number;
  /** Requests whose client went away mid-body. */
  abortedRequests: number;
  /** Requests refused by the global limit (429, global). */
  globalRateLimited: number;
  /** Edits refused with 30046. */
  oldMessageEditsRefused: number;
  /** Requests answered with the Cloudflare ban. */
  bannedRequests: number;
  /** Bodies the OpenAPI description rejects. */
  specViolations: number;
  injectedFaults: number;
  messagesCreated: number;
  messagesEdited: number;
  messagesDeleted: number;
  uploadedBytes: number;
  gateway: GatewayStats;
}
