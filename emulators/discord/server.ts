/**
 * A local Discord for tests, demos and benchmarks: REST v10 under `/api`,
 * a JSON gateway, and a CDN for attachments, all on one 127.0.0.1 port, with
 * a typed control API that plays the users' side (commands, clicks, modals)
 * and shows what a member would see.
 *
 *   const discord = await startDiscordEmulator({ clock });
 *   const guild = discord.createGuild();
 *   const user = discord.createUser();
 *   const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: discord.apiUrl } });
 *   await client.login(discord.botToken);
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { APIMessage } from 'discord.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { BodyAborted, Pipe, parseBody, readBody, type ParsedBody } from './body.js';
import { validateCommandList, validateSingleCommand, type StoredCommand } from './commands.js';
import {
  DiscordError,
  badRequest,
  cannotEditOthersMessage,
  emptyMessage,
  formError,
  methodNotAllowed,
  missingAccess,
  missingPermissions,
  notAuthorizedForApplication,
  notFound,
  threadArchived,
  unauthorized,
  unknownApplicationCommand,
  unknownChannel,
  unknownGuild,
} from './errors.js';
import { Gateway, shardOf, type GatewayLogEntry } from './gateway.js';
import { Interactions } from './interactions.js';
import {
  GlobalRateLimiter,
  InvalidRequestCounter,
  OldMessageEditCap,
  cloudflareBan,
  globalRateLimited,
  type InvalidRequestState,
} from './limits.js';
import { OpenApiValidator, defaultSpecPath, violationTree, type SpecViolation } from './openapi.js';
import { Permission, has } from './permissions.js';
import {
  FaultBook,
  RateLimiter,
  retryAfterHeader,
  type FaultSpec,
  type RateLimitOptions,
  type RequestTarget,
  type RouteKey,
} from './rate-limit.js';
import { compareSnowflakes, isSnowflake, SnowflakeGenerator } from './snowflake.js';
import type {
  AutocompleteInvocation,
  ButtonClick,
  ChannelInfo,
  CreateChannelOptions,
  CreateGuildOptions,
  CreateThreadOptions,
  CreateUserOptions,
  DiscordEmulatorOptions,
  EmulatorStats,
  GuildInfo,
  InteractionHandle,
  ModalSubmission,
  PermissionOverwriteSpec,
  RecordedRequest,
  RoleInfo,
  SlashCommandInvocation,
  ThreadUpdate,
  TimelineEntry,
  UserInfo,
} from './types.js';
import { parseMessageWrite } from './validate.js';
import { MiB, World, type MessageRec } from './world.js';

export * from './types.js';

export interface DiscordEmulator {
  /** REST base as discord.js's `rest.api` takes it, e.g. `http://127.0.0.1:PORT/api`. */
  readonly apiUrl: string;
  /** `ws://127.0.0.1:PORT/gateway`, as `GET /gateway/bot` reports it. */
  readonly gatewayUrl: string;
  /** `http://127.0.0.1:PORT`. */
  readonly baseUrl: string;
  readonly port: number;
  readonly botToken: string;
  readonly applicationId: string;
  readonly botUserId: string;
  readonly clock: Clock;

  createGuild(opts?: CreateGuildOptions): GuildInfo;
  createChannel(guildId: string, opts?: CreateChannelOptions): ChannelInfo;
  createUser(opts?: CreateUserOptions): UserInfo;
  /** Changes a member's permissions (decimal bitfield string); adds the member when missing. */
  setMemberPermissions(guildId: string, userId: string, permissions: string): void;
  /** Boost level 0–3: changes the upload limit of channel routes; the bot gets GUILD_UPDATE. */
  setGuildPremiumTier(guildId: string, tier: 0 | 1 | 2 | 3): void;
  /** Sets (replaces) a channel's overwrite for a role (`guild.id` is @everyone, `guild.botRoleId` the bot's) or member. */
  setPermissionOverwrite(channelId: string, overwrite: PermissionOverwriteSpec): void;
  deletePermissionOverwrite(channelId: string, targetId: string): void;
  /** The bot's permissions in a channel or thread as Discord computes them (decimal bitfield). */
  botPermissionsIn(channelId: string): string;
  /** A thread under a text channel (type 11 public by default); THREAD_CREATE when the bot can see it. */
  createThread(parentChannelId: string, opts?: CreateThreadOptions): ChannelInfo;
  /** A moderator archives / locks / renames a thread; THREAD_UPDATE. */
  updateThread(threadId: string, update: ThreadUpdate): void;
  /** `thread_metadata` as it is now (auto-archive applied). */
  threadState(threadId: string): {
    archived: boolean;
    locked: boolean;
    archiveTimestamp: number;
    autoArchiveMinutes: number;
  };
  /** Makes a role (GUILD_ROLE_CREATE); `permissions` is a decimal bitfield, none by default. */
  createRole(guildId: string, opts?: { name?: string; permissions?: string }): RoleInfo;
  /** Deletes a role and takes it from every member (GUILD_ROLE_DELETE). */
  deleteRole(guildId: string, roleId: string): void;
  /** Replaces a member's roles; their permissions follow (GUILD_MEMBER_UPDATE, GUILD_MEMBERS intent only). */
  setMemberRoles(guildId: string, userId: string, roleIds: string[]): void;

  /** Registers commands directly, with the same validation as the PUT route. */
  registerCommands(definitions: unknown[], guildId?: string): StoredCommand[];
  commands(guildId?: string): StoredCommand[];

  /** A user runs a slash command; throws when Discord's client would not let them. */
  invokeSlashCommand(opts: SlashCommandInvocation): InteractionHandle;
  /** A user types in an autocomplete option; `handle.choices()` resolves with the bot's answer. */
  autocomplete(opts: AutocompleteInvocation): InteractionHandle;
  clickButton(opts: ButtonClick): InteractionHandle;
  /** A user submits a modal the bot showed them (type 9 callback). */
  submitModal(opts: ModalSubmission): InteractionHandle;

  /** Every change a member of the channel saw, in order (ephemeral entries marked). */
  timeline(channelId: string): TimelineEntry[];
  /** Messages a member sees now, oldest first; ephemeral ones only with `includeEphemeral`. */
  messages(channelId: string, opts?: { includeEphemeral?: boolean }): APIMessage[];
  /** One message as stored (deleted and ephemeral included), or undefined. */
  message(messageId: string): APIMessage | undefined;
  /** A user posts a plain message (for history scans that must skip other authors). */
  postUserMessage(channelId: string, userId: string, content: string): APIMessage;
  /** A moderator (or the user, for an ephemeral message) deletes a message. */
  deleteMessage(channelId: string, messageId: string): void;
  /** The bytes behind an attachment id. */
  attachmentData(attachmentId: string): Buffer | undefined;

  /** Drops gateway sockets: resumable (close 4000 → RESUME) by default, or invalidates the session (op 9). */
  disconnectGateway(opts?: { resumable?: boolean; code?: number }): number;
  /** Sends op 7 Reconnect; discord.js resumes. */
  requestGatewayReconnect(): number;
  /** Sessions with an open socket. */
  readonly gatewaySessions: number;
  readonly gatewayLog: readonly GatewayLogEntry[];

  injectFault(f: FaultSpec): void;
  clearFaults(): void;
  /** Replaces the bucket configuration (undefined turns buckets off) and empties the buckets. */
  setRateLimit(opts: RateLimitOptions | undefined): void;
  /**
   * For the next `ms` (the global limiter's clock: real time unless its
   * `clock` was given) every bot-authenticated request on a non-exempt route
   * gets a global 429 with `retry_after` the time left.
   */
  forceGlobalRateLimit(ms: number): void;
  /** Sets the body-reading bandwidth (bytes/s, real time) of one channel, or the default link; null removes it. */
  setUploadBandwidth(bytesPerSecond: number | null, channelId?: string): void;
  /** The invalid-request window and ban of a client IP (default 127.0.0.1, where the bot runs). */
  invalidRequestState(ip?: string): InvalidRequestState;
  /** Lifts a ban and empties the window of a client IP. */
  resetInvalidRequests(ip?: string): void;
  /** Bodies the OpenAPI description rejected (each also answered 400 / 50035), oldest first. */
  specViolations(): readonly SpecViolation[];
  clearSpecViolations(): void;

  /** REST requests as seen, oldest first; tokens never appear. */
  readonly requests: readonly RecordedRequest[];
  stats(): EmulatorStats;
  /** Polls `check` every few real milliseconds until it returns something truthy. */
  waitFor<T>(check: () => T | undefined | null | false, opts?: { timeoutMs?: number; what?: string }): Promise<T>;
  close(): Promise<void>;
}

interface RouteDef {
  method: string;
  pattern: string[];
  route: RouteKey;
  /** Needs `Authorization: Bot <token>`. */
  bot: boolean;
}

const ROUTES: RouteDef[] = [
  { method: 'GET', pattern: ['gateway'], route: 'gateway', bot: false },
  { method: 'GET', pattern: ['gateway', 'bot'], route: 'gateway_bot', bot: true },
  { method: 'GET', pattern: ['users', '@me'], route: 'users_me', bot: true },
  { method: 'GET', pattern: ['applications', '@me'], route: 'application_me', bot: true },
  { method: 'GET', pattern: ['oauth2', 'applications', '@me'], route: 'application_me', bot: true },
  { method: 'GET', pattern: ['applications', ':app', 'commands'], route: 'commands_get', bot: true },
  { method: 'PUT', pattern: ['applications', ':app', 'commands'], route: 'commands_put', bot: true },
  { method: 'POST', pattern: ['applications', ':app', 'commands'], route: 'commands_post', bot: true },
  { method: 'DELETE', pattern: ['applications', ':app', 'commands', ':command'], route: 'commands_delete', bot: true },
  {
    method: 'GET',
    pattern: ['applications', ':app', 'guilds', ':guild', 'commands'],
    route: 'commands_get',
    bot: true,
  },
  {
    method: 'PUT',
    pattern: ['applications', ':app', 'guilds', ':guild', 'commands'],
    route: 'commands_put',
    bot: true,
  },
  {
    method: 'POST',
    pattern: ['applications', ':app', 'guilds', ':guild', 'commands'],
    route: 'commands_post',
    bot: true,
  },
  {
    method: 'DELETE',
    pattern: ['applications', ':app', 'guilds', ':guild', 'commands', ':command'],
    route: 'commands_delete',
    bot: true,
  },
  { method: 'POST', pattern: ['interactions', ':interaction', ':token', 'callback'], route: 'callback', bot: false },
  { method: 'POST', pattern: ['webhooks', ':app', ':token'], route: 'webhook_create', bot: false },
  {
    method: 'GET',
    pattern: ['webhooks', ':app', ':token', 'messages', ':message'],
    route: 'webhook_fetch',
    bot: false,
  },
  {
    method: 'PATCH',
    pattern: ['webhooks', ':app', ':token', 'messages', ':message'],
    route: 'webhook_edit',
    bot: false,
  },
  {
    method: 'DELETE',
    pattern: ['webhooks', ':app', ':token', 'messages', ':message'],
    route: 'webhook_delete',
    bot: false,
  },
  { method: 'GET', pattern: ['channels', ':channel'], route: 'channel_info', bot: true },
  { method: 'PATCH', pattern: ['channels', ':channel'], route: 'channel_modify', bot: true },
  { method: 'GET', pattern: ['channels', ':channel', 'messages'], route: 'channel_list', bot: true },
  { method: 'POST', pattern: ['channels', ':channel', 'messages'], route: 'channel_create', bot: true },
  { method: 'GET', pattern: ['channels', ':channel', 'messages', ':message'], route: 'channel_fetch', bot: true },
  { method: 'PATCH', pattern: ['channels', ':channel', 'messages', ':message'], route: 'channel_edit', bot: true },
  { method: 'DELETE', pattern: ['channels', ':channel', 'messages', ':message'], route: 'channel_delete', bot: true },
];

function matchRoute(
  method: string,
  parts: string[],
): { def: RouteDef; params: Record<string, string> } | 'method' | null {
  let pathMatched = false;
  for (const def of ROUTES) {
    if (def.pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = def.pattern.every((p, i) => {
      const part = parts[i]!;
      if (p.startsWith(':')) {
        params[p.slice(1)] = part;
        return true;
      }
      return p === part;
    });
    if (!ok) continue;
    pathMatched = true;
    if (def.method === method) return { def, params };
  }
  return pathMatched ? 'method' : null;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export async function startDiscordEmulator(opts: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
  const clock = opts.clock ?? systemClock;
  const host = opts.host ?? '127.0.0.1';
  const ids = new SnowflakeGenerator(clock, 2);
  const applicationId = opts.applicationId ?? ids.next();
  const botUserId = opts.botUserId ?? applicationId;
  // Shaped like a real token (base64 id . timestamp . hmac) so format checks in clients pass.
  const botToken =
    opts.botToken ??
    `${Buffer.from(botUserId).toString('base64url')}.${randomBytes(4).toString('base64url')}.${randomBytes(27).toString('base64url')}`;
  const tokenLifetimeMs = opts.tokenLifetimeMs ?? 15 * 60_000;
  const ackWindowMs = opts.ackWindowMs ?? 3_000;
  const maxRequestBytes = opts.maxRequestBytes ?? 512 * MiB;
  let baseUrl = '';

  const world = new World({
    clock,
    applicationId,
    botUserId,
    botUsername: opts.botUsername ?? 'Sora',
    defaultUploadLimitBytes: opts.defaultUploadLimitBytes ?? 10 * MiB,
    attachmentUrlLifetimeMs: opts.attachmentUrlLifetimeMs ?? 24 * 3_600_000,
    nonceWindowMs: opts.nonceWindowMs ?? 3 * 60_000,
    threadAutoArchive: opts.threadAutoArchive ?? true,
    baseUrl: () => baseUrl,
  });

  const sharding = {
    guildsPerShard: opts.sharding?.guildsPerShard ?? 1_000,
    maxGuildsPerShard: opts.sharding?.maxGuildsPerShard ?? 2_500,
    maxConcurrency: opts.sharding?.maxConcurrency ?? 1,
    recommendedShards: opts.sharding?.recommendedShards,
  };

  const gateway = new Gateway({
    clock,
    botToken,
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 41_250,
    privilegedIntents: opts.privilegedIntents ?? 0,
    guildIds: () => [...world.guilds.keys()],
    maxGuildsPerShard: sharding.maxGuildsPerShard,
    onIdentify: (sessionId, shard) => {
      // A shard only hears of its own guilds (developers/events/gateway, "Sharding Formula").
      const mine = [...world.guilds.values()].filter((g) => shardOf(g.id, shard[1]) === shard[0]);
      return {
        ready: {
          v: 10,
          user_settings: {},
          user: world.apiSelf(),
          guilds: mine.map((g) => ({ id: g.id, unavailable: true })),
          session_id: sessionId,
          session_type: 'normal',
          resume_gateway_url: `${baseUrl.replace(/^http/, 'ws')}/resume`,
          shard,
          application: { id: applicationId, flags: 1 << 23 },
          private_channels: [],
          relationships: [],
          presences: [],
          guild_join_requests: [],
          geo_ordered_rtc_regions: [],
          auth: {},
          _trace: ['["emulator-gateway",{"micros":0}]'],
        },
        guildCreates: mine.map((g) => world.apiGuildCreate(g)),
      };
    },
  });
  world.onGuildEvent = (t, d, intent) =>
    gateway.dispatch(t, d, intent === undefined ? undefined : (intents) => (intents & intent) !== 0);

  const oldEdits = opts.oldMessageEdits === false ? null : new OldMessageEditCap(opts.oldMessageEdits ?? {});
  /** The 30046 cap, before an edit of a message is applied (age on the emulator clock). */
  const checkOldEdit = (m: MessageRec): void => oldEdits?.check(m, clock.now());

  const interactions = new Interactions(world, {
    applicationId,
    botUserId,
    ackWindowMs,
    tokenLifetimeMs,
    dispatch: (payload) => gateway.dispatch('INTERACTION_CREATE', payload),
    beforeEdit: checkOldEdit,
  });

  const faults = new FaultBook();
  let limiter = new RateLimiter(opts.rateLimit);
  const globalLimiter = opts.globalRateLimit === false ? null : new GlobalRateLimiter(opts.globalRateLimit ?? {});
  const invalid = opts.invalidRequests === false ? null : new InvalidRequestCounter(clock, opts.invalidRequests ?? {});
  const pipes = {
    default: opts.uploadBandwidth?.default ? new Pipe(opts.uploadBandwidth.default) : null,
    perChannel: new Map(
      Object.entries(opts.uploadBandwidth?.perChannel ?? {}).map(([id, rate]) => [id, new Pipe(rate)] as const),
    ),
  };
  const validation = opts.openApiValidation ?? Boolean(process.env.VITEST);
  const specPath = (typeof validation === 'object' ? validation.specPath : undefined) ?? defaultSpecPath();
  const validator = validation ? new OpenApiValidator(specPath) : null;
  if (validator) {
    if (!fs.existsSync(specPath))
      throw new Error(`openApiValidation: Discord's OpenAPI description is not at ${specPath}`);
    // Loading starts now and runs while the bot logs in; compiling waits for the first body of each route.
    validator.ready().catch(() => undefined);
  }
  const requests: RecordedRequest[] = [];
  let requestSeq = 0;
  let injectedFaults = 0;
  let invalidRequests = 0;
  const counts = { aborted: 0, globalLimited: 0, banned: 0 };

  const checkBotAuth = (req: IncomingMessage): RecordedRequest['auth'] => {
    const header = req.headers.authorization;
    if (!header) return 'missing';
    return header === `Bot ${botToken}` ? 'bot' : 'invalid';
  };

  const applicationFor = (app: string): void => {
    if (app !== applicationId) throw notAuthorizedForApplication();
  };

  const guildForCommands = (guildId: string | undefined): string | undefined => {
    if (guildId === undefined) return undefined;
    const guild = world.guilds.get(guildId);
    if (!guild) throw isSnowflake(guildId) ? missingAccess() : unknownGuild();
    return guildId;
  };

  /** The bot must see the channel to use any channel route. */
  const channelFor = (channelId: string) => {
    const channel = world.findChannel(channelId);
    if (!channel) throw unknownChannel();
    world.viewableChannel(channel);
    return channel;
  };

  const faultReply = (spec: FaultSpec): Reply => {
    injectedFaults++;
    if (spec.status === 429) {
      const retryAfterMs = spec.retryAfterMs ?? 100;
      const global = spec.global === true;
      const scope = spec.scope ?? (global ? 'global' : 'user');
      return {
        status: 429,
        body: { message: spec.message ?? 'You are being rate limited.', retry_after: retryAfterMs / 1000, global },
        headers: {
          'retry-after': retryAfterHeader(retryAfterMs, limiter.retryAfterMode),
          'x-ratelimit-scope': scope,
          ...(global
            ? { 'x-ratelimit-global': 'true' }
            : {
                'x-ratelimit-limit': '5',
                'x-ratelimit-remaining': '0',
                'x-ratelimit-reset': ((clock.now() + retryAfterMs) / 1000).toFixed(3),
                'x-ratelimit-reset-after': (retryAfterMs / 1000).toFixed(3),
                'x-ratelimit-bucket': 'emulator-injected',
              }),
        },
      };
    }
    const text = STATUS_TEXT[spec.status] ?? 'Error';
    return { status: spec.status, body: { message: spec.message ?? `${spec.status}: ${text}`, code: spec.code ?? 0 } };
  };

  /** Works out what a request is about before running it, for faults and buckets. */
  const targetOf = (route: RouteKey, params: Record<string, string>): RequestTarget => {
    const target: RequestTarget = {};
    if (params.channel) target.channelId = params.channel;
    if (params.message && params.message !== '@original') target.messageId = params.message;
    if (params.interaction) target.interactionId = params.interaction;
    if (params.token) {
      const rec = interactions.byTokenValue(params.token);
      if (rec) {
        target.interactionId = rec.id;
        target.channelId = rec.channelId;
        if (params.message === '@original' && rec.originalMessageId) target.messageId = rec.originalMessageId;
      }
    }
    if (route === 'callback' && params.interaction) {
      const rec = interactions.get(params.interaction);
      if (rec) target.channelId = rec.channelId;
    }
    return target;
  };

  const handlers: Record<
    RouteKey,
    (params: Record<string, string>, body: ParsedBody, url: URL, arrivedAt: number) => Reply
  > = {
    gateway: () => ({ status: 200, body: { url: `${baseUrl.replace(/^http/, 'ws')}/gateway` } }),
    gateway_bot: () => ({
      status: 200,
      body: {
        url: `${baseUrl.replace(/^http/, 'ws')}/gateway`,
        // "a recommended number of shards" (developers/events/gateway#get-gateway-bot): about one per
        // 1,000 guilds, as Discord hands out.
        shards: sharding.recommendedShards ?? Math.max(1, Math.ceil(world.guilds.size / sharding.guildsPerShard)),
        session_start_limit: {
          total: 1000,
          remaining: Math.max(0, 1000 - gateway.stats.identifies),
          reset_after: 86_400_000,
          max_concurrency: sharding.maxConcurrency,
        },
      },
    }),
    users_me: () => ({ status: 200, body: world.apiSelf() }),
    application_me: () => ({
      status: 200,
      body: {
        id: applicationId,
        name: world.user(botUserId).username,
        icon: null,
        description: '',
        summary: '',
        type: null,
        hook: true,
        bot_public: true,
        bot_require_code_grant: false,
        verify_key: 'a'.repeat(64),
        flags: 1 << 23,
        owner: world.apiUser(botUserId),
        team: null,
        bot: world.apiUser(botUserId),
        install_params: { scopes: ['applications.commands', 'bot'], permissions: '0' },
        integration_types_config: { '0': {} },
        approximate_guild_count: world.guilds.size,
        approximate_user_install_count: 0,
        interactions_endpoint_url: null,
        redirect_uris: [],
        tags: [],
      },
    }),
    commands_get: (p) => {
      applicationFor(p.app!);
      return { status: 200, body: world.commandScope(guildForCommands(p.guild)).list() };
    },
    commands_put: (p, body) => {
      applicationFor(p.app!);
      const guildId = guildForCommands(p.guild);
      const valid = validateCommandList(body.json, guildId !== undefined);
      return { status: 200, body: world.commandScope(guildId).overwrite(valid) };
    },
    commands_post: (p, body) => {
      applicationFor(p.app!);
      const guildId = guildForCommands(p.guild);
      const { command, created } = world
        .commandScope(guildId)
        .upsert(validateSingleCommand(body.json, guildId !== undefined));
      return { status: created ? 201 : 200, body: command };
    },
    commands_delete: (p) => {
      applicationFor(p.app!);
      if (!world.commandScope(guildForCommands(p.guild)).delete(p.command!)) throw unknownApplicationCommand();
      return { status: 204 };
    },
    callback: (p, body, url, arrivedAt) => {
      const result = interactions.callback(
        p.interaction!,
        p.token!,
        body,
        url.searchParams.get('with_response') === 'true',
        arrivedAt,
      );
      return { status: result.status, body: result.body };
    },
    webhook_create: (p, body, url, arrivedAt) => {
      const rec = interactions.webhook(p.app!, p.token!, arrivedAt);
      const m = interactions.followUp(rec, body);
      return url.searchParams.get('wait') === 'true' ? { status: 200, body: world.apiMessage(m) } : { status: 204 };
    },
    webhook_fetch: (p, _body, _url, arrivedAt) => {
      const rec = interactions.webhook(p.app!, p.token!, arrivedAt);
      return { status: 200, body: world.apiMessage(interactions.webhookMessage(rec, p.message!)) };
    },
    webhook_edit: (p, body, _url, arrivedAt) => {
      const rec = interactions.webhook(p.app!, p.token!, arrivedAt);
      return { status: 200, body: world.apiMessage(interactions.editViaWebhook(rec, p.message!, body)) };
    },
    webhook_delete: (p, _body, _url, arrivedAt) => {
      const rec = interactions.webhook(p.app!, p.token!, arrivedAt);
      interactions.deleteViaWebhook(rec, p.message!);
      return { status: 204 };
    },
    channel_info: (p) => ({ status: 200, body: world.apiChannel(channelFor(p.channel!)) }),
    channel_modify: (p, body) => {
      // Only what a bot does to a thread it works in (developers/topics/threads, "Editing &
      // Deleting Threads"): unarchive (locked ones need MANAGE_THREADS), archive, lock, rename.
      const channel = channelFor(p.channel!);
      const t = channel.thread;
      const can = world.botCan(channel);
      const json = (typeof body.json === 'object' && body.json !== null ? body.json : {}) as Record<string, unknown>;
      if (!t) {
        if (!has(can.bits, Permission.ManageChannels)) throw missingPermissions();
        if (typeof json.name === 'string') channel.name = json.name;
        return { status: 200, body: world.apiChannel(channel) };
      }
      const creator = channel.ownerId === botUserId;
      const update: ThreadUpdate = {};
      if (typeof json.archived === 'boolean') update.archived = json.archived;
      if (typeof json.locked === 'boolean') update.locked = json.locked;
      if (typeof json.name === 'string') update.name = json.name;
      if (typeof json.auto_archive_duration === 'number')
        update.autoArchiveDurationMinutes = json.auto_archive_duration as ThreadUpdate['autoArchiveDurationMinutes'];
      if (update.locked !== undefined && !can.manageThreads) throw missingPermissions();
      if (
        (update.name !== undefined || update.autoArchiveDurationMinutes !== undefined) &&
        !can.manageThreads &&
        !creator
      )
        throw missingPermissions();
      if (update.archived === true && !can.manageThreads && !creator) throw missingPermissions();
      if (update.archived === false && t.locked && !can.manageThreads) throw missingPermissions();
      // "only active threads can be manipulated" (developers/topics/threads): while archived, only a
      // request that also unarchives may change anything.
      if (t.archived && update.archived !== false && Object.keys(update).length > 0) throw threadArchived(400);
      world.updateThread(channel.id, update);
      return { status: 200, body: world.apiChannel(channel) };
    },
    channel_list: (p, _body, url) => {
      const channel = channelFor(p.channel!);
      const limitRaw = url.searchParams.get('limit');
      const limit = limitRaw === null ? 50 : Number(limitRaw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw formError(['limit'], 'NUMBER_TYPE_MAX', 'int value should be between 1 and 100.');
      const before = url.searchParams.get('before');
      const after = url.searchParams.get('after');
      const around = url.searchParams.get('around');
      for (const [key, v] of [
        ['before', before],
        ['after', after],
        ['around', around],
      ] as const) {
        if (v !== null && !isSnowflake(v))
          throw formError([key], 'NUMBER_TYPE_COERCE', `Value "${v}" is not snowflake.`);
      }
      // "If the current user is missing the READ_MESSAGE_HISTORY permission in the channel, then no
      // messages will be returned" (developers/resources/message#get-channel-messages).
      if (!world.botCan(channel).readHistory) return { status: 200, body: [] };
      const all = world.visibleMessages(p.channel!).sort((a, b) => compareSnowflakes(a.id, b.id));
      let picked: MessageRec[];
      if (after !== null) picked = all.filter((m) => compareSnowflakes(m.id, after) > 0).slice(0, limit);
      else if (before !== null) picked = all.filter((m) => compareSnowflakes(m.id, before) < 0).slice(-limit);
      else if (around !== null) {
        const older = all.filter((m) => compareSnowflakes(m.id, around) <= 0);
        const newer = all.filter((m) => compareSnowflakes(m.id, around) > 0);
        const half = Math.floor(limit / 2);
        picked = [...older.slice(-(limit - half)), ...newer.slice(0, half)];
      } else picked = all.slice(-limit);
      // Discord answers newest first whichever way you page.
      return { status: 200, body: picked.reverse().map((m) => world.apiMessage(m)) };
    },
    channel_create: (p, body) => {
      const channel = channelFor(p.channel!);
      const can = world.botCan(channel);
      // Threads need SEND_MESSAGES_IN_THREADS, not SEND_MESSAGES (developers/topics/permissions,
      // "Inherited Permissions (Threads)"); without either, Attach Files and Embed Links are implied off.
      if (!can.send) throw missingPermissions();
      if (body.files.length > 0 && !can.attach) throw missingPermissions();
      World.checkUploadSize(body.files, world.guild(channel.guildId).uploadLimitBytes);
      let write = parseMessageWrite(body.json, body.files, { mode: 'create', allowEphemeral: false });
      // "When creating a message as a reply to another message, the current user must have the
      // READ_MESSAGE_HISTORY permission" (developers/resources/message#create-message-limitations).
      if (write.messageReference && !can.readHistory) throw missingPermissions();
      if (!can.embed && (write.embeds?.length ?? 0) > 0) {
        // Without Embed Links an embed-only message is refused with 50013 (discord/discord-api-docs#2601,
        // discordjs/discord.js#7544); with anything else the embeds are dropped without a word
        // (discord/discord-api-docs#5648, Spoffy/EcoDiscordPlugin#47: "the embed would simply not be shown").
        const rest = (write.content ?? '') !== '' || (write.components?.length ?? 0) > 0 || body.files.length > 0;
        if (!rest) throw missingPermissions();
        write = { ...write, embeds: [] };
      }
      world.threadGate(channel, 'post');
      if (write.nonce !== undefined && write.enforceNonce) {
        const existing = world.findByNonce(channel.id, botUserId, write.nonce);
        if (existing) return { status: 200, body: world.apiMessage(existing, { nonce: write.nonce }) };
      }
      const m = world.createMessage(channel.id, botUserId, write, {
        via: 'channel',
        type: write.messageReference ? 19 : 0,
      });
      return { status: 200, body: world.apiMessage(m, write.nonce !== undefined ? { nonce: write.nonce } : {}) };
    },
    channel_fetch: (p) => {
      const channel = channelFor(p.channel!);
      // Get Channel Message needs VIEW_CHANNEL and READ_MESSAGE_HISTORY
      // (developers/resources/message#get-channel-message); Discord's code for a missing read is 50001.
      if (!world.botCan(channel).readHistory) throw missingAccess();
      return { status: 200, body: world.apiMessage(world.channelMessage(p.channel!, p.message!)) };
    },
    channel_edit: (p, body) => {
      const channel = channelFor(p.channel!);
      const m = world.channelMessage(channel.id, p.message!);
      if (m.authorId !== botUserId) throw cannotEditOthersMessage();
      world.threadGate(channel, 'edit');
      World.checkUploadSize(body.files, world.guild(channel.guildId).uploadLimitBytes);
      let write = parseMessageWrite(body.json, body.files, {
        mode: 'edit',
        allowEphemeral: false,
        existingFlags: m.flags,
      });
      // An edit's embeds are ignored without Embed Links; what is left may be an empty message
      // (discord/discord-api-docs#5648: "Ignores embed and calls it 'empty'").
      if (!world.botCan(channel).embed && write.embeds !== undefined && write.embeds.length > 0) {
        write = { ...write, embeds: [] };
        const content = write.content ?? m.content;
        const components = write.components ?? m.components;
        const kept =
          write.attachments === undefined ? m.attachments.length + body.files.length : write.attachments.length;
        if (content === '' && components.length === 0 && kept === 0) throw emptyMessage();
      }
      checkOldEdit(m);
      return { status: 200, body: world.apiMessage(world.editMessage(m, write, 'channel', null)) };
    },
    channel_delete: (p) => {
      const channel = channelFor(p.channel!);
      const m = world.channelMessage(channel.id, p.message!);
      if (m.authorId !== botUserId && !world.botCan(channel).manageMessages) throw missingPermissions();
      world.threadGate(channel, 'delete');
      world.deleteMessage(m, 'channel', null);
      return { status: 204 };
    },
    // The CDN is served before routing (serveCdn); this entry only completes the table.
    cdn: () => ({ status: 404 }),
  };

  const send = (res: ServerResponse, reply: Reply, head: boolean): void => {
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body);
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(reply.status, headers);
    res.end(head ? undefined : text);
  };

  const serveCdn = (
    req: IncomingMessage,
    res: ServerResponse,
    segments: string[],
    url: URL,
    record: RecordedRequest,
  ): void => {
    record.route = 'cdn';
    const fault = faults.take('cdn', {}, 'before');
    if (fault) {
      const reply = faultReply(fault);
      record.status = reply.status;
      record.fault = 'injected';
      send(res, reply, req.method === 'HEAD');
      return;
    }
    const [, folder, scope, id, filename] = segments;
    const found =
      segments.length === 5 && (folder === 'attachments' || folder === 'ephemeral-attachments')
        ? world.resolveCdn(folder, scope!, id!, filename!, url.searchParams)
        : undefined;
    if (!found || found === 'expired') {
      // Discord's CDN answers expired or unsigned links with this plain-text 404.
      const text = 'This content is no longer available.';
      record.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': String(text.length) });
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    record.status = 200;
    res.writeHead(200, {
      'content-type': found.contentType ?? 'application/octet-stream',
      'content-length': String(found.size),
      'cache-control': 'public, max-age=31536000',
    });
    res.end(req.method === 'HEAD' ? undefined : found.data);
  };

  /** Routes Discord does not hold to the global limit: "Interaction endpoints are not bound to the bot's Global Rate Limit" (developers/topics/rate-limits#global-rate-limit). */
  const globallyExempt = (route: RouteKey): boolean => route === 'callback' || route.startsWith('webhook_');

  const pipeFor = (channelId: string | undefined): Pipe | undefined =>
    (channelId !== undefined ? pipes.perChannel.get(channelId) : undefined) ?? pipes.default ?? undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const arrivedAt = clock.now();
    const arrivedHr = performance.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    const raw = url.pathname.split('/').slice(1);
    const ip = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? 'unknown';
    const authState = req.headers.authorization ? (checkBotAuth(req) === 'bot' ? 'bot' : 'invalid') : 'missing';
    const record: RecordedRequest = {
      seq: ++requestSeq,
      at: arrivedAt,
      arrivedHr,
      method,
      route: 'unknown',
      path: url.pathname,
      query: url.search,
      status: 0,
      auth: authState,
      files: [],
      bodyBytes: 0,
      ip,
    };
    requests.push(record);
    let segments: string[];
    try {
      // Split first, then decode: a token may carry an encoded `/`.
      segments = raw.map((s) => decodeURIComponent(s));
    } catch {
      send(res, { status: 400, body: badRequest().body }, false);
      record.status = 400;
      return;
    }
    if ((segments[0] === 'cdn' || segments[0] === 'media') && (method === 'GET' || method === 'HEAD')) {
      serveCdn(req, res, segments, url, record);
      return;
    }
    /** Everything from routing to the handler's answer; limits and faults may answer first. */
    const pipeline = async (): Promise<Reply> => {
      if (segments[0] !== 'api' || segments[1] !== 'v10') throw notFound();
      // A banned IP never reaches Discord: Cloudflare answers every API request.
      if (invalid?.banned(ip)) {
        counts.banned++;
        record.fault = 'banned';
        throw cloudflareBan();
      }
      const parts = segments.slice(2);
      const matched = matchRoute(method, parts);
      if (matched === null) throw notFound();
      if (matched === 'method') throw methodNotAllowed();
      const { def, params } = matched;
      record.route = def.route;
      if (params.token !== undefined) {
        const tokenIndex = def.pattern.indexOf(':token') + 2;
        record.path = '/' + raw.map((s, i) => (i === tokenIndex ? ':token' : s)).join('/');
      }
      if (def.bot && record.auth !== 'bot') throw unauthorized();
      const target = targetOf(def.route, params);
      Object.assign(record, target);
      if (globalLimiter && !globallyExempt(def.route)) {
        // Per bot token; "If no authorization header is provided, then the limit is applied to the IP address".
        const client = record.auth === 'bot' ? 'bot' : `ip:${ip}`;
        const waitMs = globalLimiter.check(client, record.auth === 'bot');
        if (waitMs !== undefined) {
          counts.globalLimited++;
          record.fault = 'global_rate_limit';
          req.resume();
          return globalRateLimited(waitMs, globalLimiter.retryAfterMode);
        }
      }
      const body = BODY_METHODS.has(method)
        ? await parseBody(req.headers['content-type'], await readBody(req, maxRequestBytes, pipeFor(target.channelId)))
        : { json: undefined, files: [], bytes: 0, contentType: '' };
      if (!BODY_METHODS.has(method)) req.resume();
      record.bodyBytes = body.bytes;
      if (body.json !== undefined) record.json = body.json;
      record.files = body.files.map((f) => ({
        field: f.field,
        filename: f.filename,
        size: f.size,
        sha256: f.sha256,
        contentType: f.contentType,
      }));
      const violation = validator
        ? await validator.check(def.route, params.guild !== undefined, body.json, {
            seq: record.seq,
            method,
            path: record.path,
          })
        : undefined;
      if (violation) {
        record.fault = 'spec_violation';
        // Discord answers an invalid body with 50035 and the field tree.
        return { status: 400, body: { message: 'Invalid Form Body', code: 50035, errors: violationTree(violation) } };
      }
      const before = faults.take(def.route, target, 'before');
      if (before) {
        record.fault = 'injected';
        return faultReply(before);
      }
      const limit = limiter.check(def.route, target);
      if (limit.retryAfterMs !== undefined) {
        record.fault = 'rate_limit';
        return {
          status: 429,
          body: {
            message: 'You are being rate limited.',
            retry_after: Number((limit.retryAfterMs / 1000).toFixed(3)),
            global: false,
          },
          headers: limit.headers,
        };
      }
      let answer: Reply;
      try {
        answer = handlers[def.route](params, body, url, arrivedAt);
      } catch (err) {
        if (!(err instanceof DiscordError)) throw err;
        answer = { status: err.status, body: err.body, headers: err.headers };
        if (err.code === 30046) record.fault = 'old_message_edit';
      }
      answer.headers = { ...limit.headers, ...(answer.headers ?? {}) };
      const after = faults.take(def.route, target, 'after');
      if (after) {
        record.fault = 'injected';
        return faultReply(after);
      }
      return answer;
    };
    let reply: Reply;
    try {
      reply = await pipeline();
    } catch (err) {
      if (err instanceof BodyAborted) {
        // Nobody is listening any more: nothing to answer.
        counts.aborted++;
        record.aborted = true;
        record.bodyBytes = err.bytesRead;
        return;
      }
      if (err instanceof DiscordError) {
        reply = { status: err.status, body: err.body, headers: err.headers };
      } else {
        console.error('discord emulator: internal error', err);
        reply = { status: 500, body: { message: '500: Internal Server Error', code: 0 } };
      }
      req.resume();
    }
    record.status = reply.status;
    // Discord's invalid-request counter: 401s, 403s and 429s except shared-scope ones
    // (developers/topics/rate-limits#invalid-request-limit-aka-cloudflare-bans). The ban's own
    // answers come from Cloudflare and are not counted again.
    if (
      record.fault !== 'banned' &&
      (reply.status === 401 ||
        reply.status === 403 ||
        (reply.status === 429 && reply.headers?.['x-ratelimit-scope'] !== 'shared'))
    ) {
      invalidRequests++;
      invalid?.count(ip);
    }
    const code = (reply.body as { code?: unknown } | undefined)?.code;
    if (reply.status >= 400 && typeof code === 'number') record.code = code;
    send(res, reply, false);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('discord emulator: unhandled', err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${host}:${port}`;

  let closed = false;
  const emulator: DiscordEmulator = {
    apiUrl: `${baseUrl}/api`,
    gatewayUrl: `${baseUrl.replace(/^http/, 'ws')}/gateway`,
    baseUrl,
    port,
    botToken,
    applicationId,
    botUserId,
    clock,
    createGuild: (o) => world.createGuild(o),
    createChannel: (guildId, o) => world.createChannel(guildId, o),
    createUser: (o) => world.createUser(o),
    setMemberPermissions: (g, u, p) => world.setMemberPermissions(g, u, p),
    setGuildPremiumTier: (g, tier) => world.setPremiumTier(g, tier),
    setPermissionOverwrite: (c, o) => world.setPermissionOverwrite(c, o),
    deletePermissionOverwrite: (c, id) => world.deletePermissionOverwrite(c, id),
    botPermissionsIn: (c) => world.botPermissionsIn(world.channel(c)).toString(),
    createThread: (parent, o) => world.createThread(parent, o),
    updateThread: (id, u) => world.updateThread(id, u),
    threadState: (id) => {
      const t = world.channel(id).thread;
      if (!t) throw new Error(`channel ${id} is not a thread`);
      return {
        archived: t.archived,
        locked: t.locked,
        archiveTimestamp: t.archiveTimestamp,
        autoArchiveMinutes: t.autoArchiveMinutes,
      };
    },
    createRole: (g, o) => world.createRole(g, o),
    deleteRole: (g, r) => world.deleteRole(g, r),
    setMemberRoles: (g, u, r) => world.setMemberRoles(g, u, r),
    registerCommands: (definitions, guildId) => {
      const valid = validateCommandList(definitions, guildId !== undefined);
      if (guildId !== undefined) world.guild(guildId);
      return world.commandScope(guildId).overwrite(valid);
    },
    commands: (guildId) => world.commandScope(guildId).list(),
    invokeSlashCommand: (o) => interactions.invokeSlashCommand(o),
    autocomplete: (o) => interactions.autocomplete(o),
    clickButton: (o) => interactions.clickButton(o),
    submitModal: (o) => interactions.submitModal(o),
    timeline: (channelId) => world.timeline(channelId),
    messages: (channelId, o = {}) =>
      [...world.messages.values()]
        .filter((m) => m.channelId === channelId && !m.deleted && (o.includeEphemeral || m.visibleTo === null))
        .sort((a, b) => compareSnowflakes(a.id, b.id))
        .map((m) => world.apiMessage(m)),
    message: (id) => {
      const m = world.messages.get(id);
      return m ? world.apiMessage(m) : undefined;
    },
    postUserMessage: (channelId, userId, content) => {
      world.user(userId);
      const write = parseMessageWrite({ content }, [], { mode: 'create', allowEphemeral: false });
      return world.apiMessage(world.createMessage(channelId, userId, write, { via: 'control', type: 0 }));
    },
    deleteMessage: (channelId, messageId) => {
      const m = world.messages.get(messageId);
      if (!m || m.channelId !== channelId || m.deleted)
        throw new Error(`no message ${messageId} in channel ${channelId}`);
      world.deleteMessage(m, 'control', null);
    },
    attachmentData: (id) => world.attachments.get(id)?.data,
    disconnectGateway: (o) => gateway.disconnect(o),
    requestGatewayReconnect: () => gateway.requestReconnect(),
    get gatewaySessions() {
      return gateway.liveSessions;
    },
    get gatewayLog() {
      return gateway.log;
    },
    injectFault: (f) => faults.inject(f),
    clearFaults: () => faults.clear(),
    setRateLimit: (o) => {
      limiter = new RateLimiter(o);
    },
    forceGlobalRateLimit: (ms) => {
      if (!globalLimiter) throw new Error('the global rate limit is off (globalRateLimit: false)');
      globalLimiter.force(ms);
    },
    setUploadBandwidth: (rate, channelId) => {
      const pipe = rate === null ? null : new Pipe(rate);
      if (channelId === undefined) pipes.default = pipe;
      else if (pipe) pipes.perChannel.set(channelId, pipe);
      else pipes.perChannel.delete(channelId);
    },
    invalidRequestState: (ip = '127.0.0.1') => {
      if (!invalid) throw new Error('invalid-request counting is off (invalidRequests: false)');
      return invalid.state(ip);
    },
    resetInvalidRequests: (ip = '127.0.0.1') => invalid?.reset(ip),
    specViolations: () => validator?.log ?? [],
    clearSpecViolations: () => validator?.clear(),
    requests,
    stats: () => {
      const byRoute: EmulatorStats['byRoute'] = {};
      const byStatus: Record<string, number> = {};
      let status429 = 0;
      let status5xx = 0;
      for (const r of requests) {
        byRoute[r.route] = (byRoute[r.route] ?? 0) + 1;
        byStatus[String(r.status)] = (byStatus[String(r.status)] ?? 0) + 1;
        if (r.status === 429) status429++;
        if (r.status >= 500) status5xx++;
      }
      return {
        requests: requests.length,
        byRoute,
        byStatus,
        status429,
        status5xx,
        invalidRequests,
        abortedRequests: counts.aborted,
        globalRateLimited: counts.globalLimited,
        oldMessageEditsRefused: oldEdits?.refused ?? 0,
        bannedRequests: counts.banned,
        specViolations: validator?.log.length ?? 0,
        injectedFaults,
        ...world.counters,
        gateway: gateway.stats,
      };
    },
    waitFor: async (check, o = {}) => {
      const deadline = Date.now() + (o.timeoutMs ?? 5_000);
      for (;;) {
        const v = check();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.what ?? 'condition'}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await gateway.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
  return emulator;
}
