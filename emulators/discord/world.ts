/**
 * The emulated Discord's state: users, guilds, channels, messages and their
 * attachments, plus the per-channel timeline of what members see. Routes and
 * the control API both go through here, so a message made by a REST call and
 * one inspected by a test are the same object.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { APIAttachment, APIMessage, APIUser } from 'discord.js';
import type { Clock } from '../../src/clock.js';
import { contentTypeFor, sanitizeFilename, sha256, type UploadedFile } from './body.js';
import { CommandScope } from './commands.js';
import { DiscordError, emptyMessage, formError, missingAccess, threadArchived, unknownMessage } from './errors.js';
import {
  DEFAULT_BOT_PERMISSIONS,
  DEFAULT_EVERYONE_PERMISSIONS,
  ALL_PERMISSIONS,
  Permission,
  applyOverwrites,
  has,
  effective,
  parsePermissions,
  type Overwrite,
} from './permissions.js';
import { SnowflakeGenerator } from './snowflake.js';
import type {
  ChannelInfo,
  CreateChannelOptions,
  CreateGuildOptions,
  CreateThreadOptions,
  CreateUserOptions,
  GuildInfo,
  PermissionOverwriteSpec,
  ThreadUpdate,
  RoleInfo,
  TimelineAttachment,
  TimelineEntry,
  UserInfo,
} from './types.js';
import { MessageFlag, type MessageWrite } from './validate.js';

type Json = Record<string, unknown>;

export const MiB = 1024 * 1024;
/**
 * Per-file upload limits by boost tier: 10 MiB by default (developers/reference
 * "Uploading Files"; 25 → 10 MiB for webhooks and interactions on 2025-01-16,
 * change-log "Default File Upload Limit Change"), 50 MiB at level 2 and
 * 100 MiB at level 3 (Discord's Server Boosting FAQ).
 */
export const TIER_UPLOAD_LIMITS = [10 * MiB, 10 * MiB, 50 * MiB, 100 * MiB] as const;
/**
 * Per-file limits a member's Nitro gives (`premium_type`: 1 Nitro Classic,
 * 2 Nitro, 3 Nitro Basic), which `attachment_size_limit` takes into account
 * ("calculated as the maximum of these values", developers/reference
 * "Uploading Files"); figures from Discord's Nitro support pages.
 */
export const NITRO_UPLOAD_LIMITS = [0, 50 * MiB, 500 * MiB, 50 * MiB] as const;
/** GUILD_MEMBERS (1 << 1), privileged: member updates reach only bots that asked for it. */
const GUILD_MEMBERS_INTENT = 1 << 1;

export interface UserRec {
  id: string;
  username: string;
  globalName: string | null;
  locale: string;
  bot: boolean;
  discriminator: string;
  /** 0 none, 1 Nitro Classic, 2 Nitro, 3 Nitro Basic. */
  premiumType: 0 | 1 | 2 | 3;
}

export interface RoleRec {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  managed: boolean;
  botId?: string;
}

export interface MemberRec {
  userId: string;
  roles: string[];
  /** What the interaction payload reports; roles are kept consistent with it. */
  permissions: bigint;
  joinedAt: number;
}

export interface GuildRec {
  id: string;
  name: string;
  ownerId: string;
  locale: string;
  premiumTier: 0 | 1 | 2 | 3;
  uploadLimitBytes: number;
  /** Set when the test fixed the limit instead of letting the tier decide. */
  uploadLimitOverride: number | undefined;
  joinedAt: number;
  roles: RoleRec[];
  members: Map<string, MemberRec>;
  info: GuildInfo;
}

/** `thread_metadata` and the counters Discord keeps on a thread. */
export interface ThreadRec {
  archived: boolean;
  locked: boolean;
  /** Minutes of inactivity before Discord archives it: 60, 1440, 4320 or 10080. */
  autoArchiveMinutes: 60 | 1440 | 4320 | 10080;
  archiveTimestamp: number;
  createTimestamp: number;
  /** Last "activity" (a message sent, an unarchive): edits do not count (developers/topics/threads). */
  lastActivityAt: number;
  invitable: boolean;
  /** Thread members (private threads are only visible to them and to moderators). */
  members: Set<string>;
  messageCount: number;
  totalMessageSent: number;
}

export interface ChannelRec {
  id: string;
  guildId: string;
  name: string;
  /** 0 text; 11 public, 12 private thread. */
  type: 0 | 11 | 12;
  position: number;
  /** Threads: the channel they belong to. */
  parentId: string | null;
  /** Threads: who started it. */
  ownerId: string | null;
  /** Permission overwrites (threads have none: they inherit the parent's). */
  overwrites: Overwrite[];
  thread: ThreadRec | null;
  lastMessageId: string | null;
}

export interface AttachmentRec {
  id: string;
  filename: string;
  size: number;
  sha256: string;
  contentType: string | null;
  data: Buffer;
  /** CDN folder: channel attachments, or the ephemeral ones of interactions. */
  folder: 'attachments' | 'ephemeral-attachments';
  /** Channel id (attachments) or application id (ephemeral-attachments). */
  scopeId: string;
  ephemeral: boolean;
  description?: string;
  title?: string;
  spoiler?: boolean;
  width?: number;
  height?: number;
}

export interface MessageRec {
  id: string;
  channelId: string;
  guildId: string;
  authorId: string;
  content: string;
  embeds: Json[];
  components: Json[];
  attachments: AttachmentRec[];
  flags: number;
  type: number;
  createdAt: number;
  editedAt: number | null;
  deleted: boolean;
  /** Ephemeral messages are seen by this user only. */
  visibleTo: string | null;
  tts: boolean;
  webhookId?: string;
  applicationId?: string;
  interactionId?: string;
  interactionMetadata?: Json;
  legacyInteraction?: Json;
  messageReference?: Json;
}

export interface WorldOptions {
  clock: Clock;
  applicationId: string;
  botUserId: string;
  botUsername: string;
  defaultUploadLimitBytes: number;
  attachmentUrlLifetimeMs: number;
  nonceWindowMs: number;
  /** Whether threads archive themselves after `auto_archive_duration` minutes without activity. */
  threadAutoArchive: boolean;
  baseUrl(): string;
}

export interface WorldCounters {
  messagesCreated: number;
  messagesEdited: number;
  messagesDeleted: number;
  uploadedBytes: number;
}

export type Via = TimelineEntry['via'];

function iso(ms: number): string {
  // Discord writes microseconds and an explicit offset.
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

/** Width and height from a PNG or GIF header, which Discord reports for images. */
function imageSize(data: Buffer): { width: number; height: number } | undefined {
  if (data.length >= 24 && data.readUInt32BE(0) === 0x89504e47 && data.toString('latin1', 12, 16) === 'IHDR') {
    return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  if (data.length >= 10 && data.toString('latin1', 0, 4) === 'GIF8') {
    return { width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
  }
  return undefined;
}

export class World {
  readonly ids: SnowflakeGenerator;
  readonly users = new Map<string, UserRec>();
  readonly guilds = new Map<string, GuildRec>();
  readonly channels = new Map<string, ChannelRec>();
  readonly messages = new Map<string, MessageRec>();
  readonly attachments = new Map<string, AttachmentRec>();
  readonly globalCommands: CommandScope;
  private readonly guildCommands = new Map<string, CommandScope>();
  private readonly timelines = new Map<string, TimelineEntry[]>();
  private readonly nonces = new Map<string, { messageId: string; at: number }>();
  private readonly signingKey = randomBytes(32);
  private timelineSeq = 0;
  readonly counters: WorldCounters = { messagesCreated: 0, messagesEdited: 0, messagesDeleted: 0, uploadedBytes: 0 };
  /**
   * Set by the server: tells connected bots about new guilds, channels and
   * roles; `intent` limits it to sessions that asked for that intent.
   */
  onGuildEvent: (t: string, d: unknown, intent?: number) => void = () => {};
  /** While a guild is being built its parts are not announced: GUILD_CREATE carries them. */
  private building: string | null = null;

  constructor(readonly opts: WorldOptions) {
    this.ids = new SnowflakeGenerator(opts.clock);
    this.users.set(opts.botUserId, {
      id: opts.botUserId,
      username: opts.botUsername,
      globalName: null,
      locale: 'en-US',
      bot: true,
      discriminator: '0001',
      premiumType: 0,
    });
    this.globalCommands = new CommandScope(opts.applicationId, undefined, () => this.ids.next());
  }

  get clock(): Clock {
    return this.opts.clock;
  }

  now(): number {
    return this.opts.clock.now();
  }

  // ---- users, guilds, channels -------------------------------------------

  createUser(o: CreateUserOptions = {}): UserInfo {
    const id = this.ids.next();
    const username = o.username ?? `user${id.slice(-6)}`;
    if (!/^[a-z0-9_.]{2,32}$/.test(username))
      throw new Error(`invalid username ${JSON.stringify(username)}: 2–32 of a-z 0-9 _ .`);
    const user: UserRec = {
      id,
      username,
      globalName: o.globalName ?? null,
      locale: o.locale ?? 'en-US',
      bot: false,
      discriminator: '0',
      premiumType: o.premiumType ?? 0,
    };
    this.users.set(id, user);
    const guildIds = o.guildIds ?? [...this.guilds.keys()];
    for (const guildId of guildIds) {
      this.addMember(this.guild(guildId), id, parsePermissions(o.permissions, DEFAULT_EVERYONE_PERMISSIONS));
    }
    return {
      id,
      username: user.username,
      globalName: user.globalName,
      locale: user.locale,
      premiumType: user.premiumType,
    };
  }

  user(id: string): UserRec {
    const u = this.users.get(id);
    if (!u) throw new Error(`unknown user ${id}`);
    return u;
  }

  createGuild(o: CreateGuildOptions = {}): GuildInfo {
    const id = o.id ?? this.ids.next();
    if (this.guilds.has(id)) throw new Error(`guild ${id} exists`);
    const ownerId = o.ownerId ?? this.createUser({ username: `owner${id.slice(-6)}`, guildIds: [] }).id;
    this.user(ownerId);
    const tier = o.premiumTier ?? 0;
    const botRoleId = this.ids.next();
    const info: GuildInfo = {
      id,
      name: o.name ?? 'Emulated Server',
      ownerId,
      locale: o.locale ?? 'en-US',
      premiumTier: tier,
      uploadLimitBytes: o.uploadLimitBytes ?? this.tierUploadLimit(tier),
      channels: [],
      everyoneRoleId: id,
      botRoleId,
    };
    const botRole: RoleRec = {
      id: botRoleId,
      name: this.opts.botUsername,
      permissions: DEFAULT_BOT_PERMISSIONS,
      position: 1,
      managed: true,
      botId: this.opts.botUserId,
    };
    const guild: GuildRec = {
      id,
      name: info.name,
      ownerId,
      locale: info.locale,
      premiumTier: tier,
      uploadLimitBytes: info.uploadLimitBytes,
      uploadLimitOverride: o.uploadLimitBytes,
      joinedAt: this.now(),
      roles: [
        { id, name: '@everyone', permissions: DEFAULT_EVERYONE_PERMISSIONS, position: 0, managed: false },
        botRole,
      ],
      members: new Map(),
      info,
    };
    this.guilds.set(id, guild);
    guild.members.set(this.opts.botUserId, {
      userId: this.opts.botUserId,
      roles: [botRole.id],
      permissions: DEFAULT_BOT_PERMISSIONS,
      joinedAt: this.now(),
    });
    this.building = id;
    try {
      this.addMember(guild, ownerId, ALL_PERMISSIONS);
      this.createChannel(id, { name: o.defaultChannelName ?? 'general' });
    } finally {
      this.building = null;
    }
    this.onGuildEvent('GUILD_CREATE', this.apiGuildCreate(guild));
    return info;
  }

  guild(id: string): GuildRec {
    const g = this.guilds.get(id);
    if (!g) throw new Error(`unknown guild ${id}`);
    return g;
  }

  private tierUploadLimit(tier: 0 | 1 | 2 | 3): number {
    return Math.max(TIER_UPLOAD_LIMITS[tier], this.opts.defaultUploadLimitBytes);
  }

  /** Boosts come and go: the tier, the limit on channel routes and GUILD_UPDATE follow. */
  setPremiumTier(guildId: string, tier: 0 | 1 | 2 | 3): void {
    const g = this.guild(guildId);
    if (![0, 1, 2, 3].includes(tier)) throw new Error(`premium tier must be 0–3, got ${tier}`);
    g.premiumTier = tier;
    g.info.premiumTier = tier;
    g.uploadLimitBytes = g.uploadLimitOverride ?? this.tierUploadLimit(tier);
    g.info.uploadLimitBytes = g.uploadLimitBytes;
    const {
      channels: _c,
      threads: _t,
      members: _m,
      voice_states: _v,
      presences: _p,
      ...update
    } = this.apiGuildCreate(g);
    this.onGuildEvent('GUILD_UPDATE', update);
  }

  /** The largest file the member may upload through an interaction: the better of boosts and Nitro. */
  interactionUploadLimit(guild: GuildRec, userId: string): number {
    return Math.max(guild.uploadLimitBytes, NITRO_UPLOAD_LIMITS[this.user(userId).premiumType]);
  }

  createChannel(guildId: string, o: CreateChannelOptions = {}): ChannelInfo {
    const guild = this.guild(guildId);
    const id = this.ids.next();
    const channel: ChannelRec = {
      id,
      guildId,
      name: o.name ?? `channel-${guild.info.channels.length + 1}`,
      type: 0,
      position: guild.info.channels.length,
      parentId: null,
      ownerId: null,
      overwrites: (o.permissionOverwrites ?? []).map((spec) => toOverwrite(spec)),
      thread: null,
      lastMessageId: null,
    };
    if (o.botPermissions !== undefined) {
      // The bot's permissions as a member overwrite, the way a server admin would set them, so
      // discord.js's permissionsFor(me) and the routes agree on exactly these bits.
      const wanted = parsePermissions(o.botPermissions, DEFAULT_BOT_PERMISSIONS);
      const base = this.botPermissionsIn(channel);
      this.putOverwrite(channel, {
        id: this.opts.botUserId,
        type: 1,
        allow: wanted & ~base,
        deny: base & ~wanted,
      });
    }
    this.channels.set(id, channel);
    const info: ChannelInfo = { id, guildId, name: channel.name, type: 0, parentId: null };
    guild.info.channels.push(info);
    if (this.building !== guildId) this.onGuildEvent('CHANNEL_CREATE', this.apiChannel(channel));
    return info;
  }

  /** Sets (replaces) one permission overwrite of a channel and tells connected bots (CHANNEL_UPDATE). */
  setPermissionOverwrite(channelId: string, spec: PermissionOverwriteSpec): void {
    const channel = this.channel(channelId);
    if (channel.thread) throw new Error('threads have no overwrites of their own: set them on the parent channel');
    this.putOverwrite(channel, toOverwrite(spec));
    this.onGuildEvent('CHANNEL_UPDATE', this.apiChannel(channel));
  }

  deletePermissionOverwrite(channelId: string, targetId: string): void {
    const channel = this.channel(channelId);
    channel.overwrites = channel.overwrites.filter((o) => o.id !== targetId);
    this.onGuildEvent('CHANNEL_UPDATE', this.apiChannel(channel));
  }

  private putOverwrite(channel: ChannelRec, o: Overwrite): void {
    channel.overwrites = [...channel.overwrites.filter((x) => x.id !== o.id), o];
  }

  /**
   * A thread under a text channel. Active threads the bot can see are in
   * GUILD_CREATE `threads` and announced with THREAD_CREATE.
   */
  createThread(parentId: string, o: CreateThreadOptions = {}): ChannelInfo {
    const parent = this.channel(parentId);
    if (parent.type !== 0)
      throw new Error(`threads live under text channels, not under a channel of type ${parent.type}`);
    const guild = this.guild(parent.guildId);
    // Announcement threads (10) need announcement channels, which the emulator does not have.
    const type = o.type ?? 11;
    if (type !== 11 && type !== 12)
      throw new Error(`thread type must be 11 (public) or 12 (private), got ${String(type)}`);
    const auto = o.autoArchiveDurationMinutes ?? 1440;
    if (![60, 1440, 4320, 10080].includes(auto))
      throw new Error(`auto_archive_duration must be 60, 1440, 4320 or 10080 minutes, got ${auto}`);
    const ownerId = o.ownerId ?? guild.ownerId;
    this.user(ownerId);
    const id = this.ids.next();
    const now = this.now();
    const members = new Set([ownerId, ...(o.memberIds ?? [])]);
    if (o.botIsMember ?? true) members.add(this.opts.botUserId);
    const channel: ChannelRec = {
      id,
      guildId: parent.guildId,
      name: o.name ?? `thread-${id.slice(-4)}`,
      type,
      position: 0,
      parentId,
      ownerId,
      overwrites: [],
      thread: {
        archived: o.archived ?? false,
        locked: o.locked ?? false,
        autoArchiveMinutes: auto,
        archiveTimestamp: now,
        createTimestamp: now,
        lastActivityAt: now,
        invitable: type === 12 ? (o.invitable ?? true) : false,
        members,
        messageCount: 0,
        totalMessageSent: 0,
      },
      lastMessageId: null,
    };
    this.channels.set(id, channel);
    const info: ChannelInfo = { id, guildId: parent.guildId, name: channel.name, type, parentId };
    guild.info.channels.push(info);
    if (!channel.thread!.archived && this.botSeesThread(channel))
      this.onGuildEvent('THREAD_CREATE', { ...this.apiChannel(channel), newly_created: true });
    return info;
  }

  /** A moderator (or time) archives, locks, renames a thread; THREAD_UPDATE tells the bot. */
  updateThread(threadId: string, u: ThreadUpdate): void {
    const c = this.channel(threadId);
    const t = c.thread;
    if (!t) throw new Error(`channel ${threadId} is not a thread`);
    if (u.autoArchiveDurationMinutes !== undefined) {
      if (![60, 1440, 4320, 10080].includes(u.autoArchiveDurationMinutes))
        throw new Error(`auto_archive_duration must be 60, 1440, 4320 or 10080 minutes`);
      t.autoArchiveMinutes = u.autoArchiveDurationMinutes;
      // Changing the duration counts as activity (developers/topics/threads).
      t.lastActivityAt = this.now();
      t.archiveTimestamp = this.now();
    }
    if (u.name !== undefined) c.name = u.name;
    if (u.locked !== undefined) t.locked = u.locked;
    if (u.archived !== undefined && u.archived !== t.archived) {
      t.archived = u.archived;
      t.archiveTimestamp = this.now();
      if (!u.archived) t.lastActivityAt = this.now();
    }
    if (this.botSeesThread(c)) this.onGuildEvent('THREAD_UPDATE', this.apiChannel(c));
  }

  /**
   * Threads archive themselves after `auto_archive_duration` minutes without
   * activity (developers/topics/threads, "Active & Archived Threads"). The
   * emulator has no timers of its own, so it notices when the thread is next
   * looked at, and sends THREAD_UPDATE then.
   */
  private autoArchive(c: ChannelRec): void {
    const t = c.thread;
    if (!t || t.archived || !this.opts.threadAutoArchive) return;
    const due = t.lastActivityAt + t.autoArchiveMinutes * 60_000;
    if (this.now() < due) return;
    t.archived = true;
    t.archiveTimestamp = due;
    if (this.botSeesThread(c)) this.onGuildEvent('THREAD_UPDATE', this.apiChannel(c));
  }

  /** Private threads show only to their members and to whoever may manage threads. */
  private botSeesThread(c: ChannelRec): boolean {
    const perms = this.botPermissionsIn(c);
    if (!has(perms, Permission.ViewChannel)) return false;
    if (c.type !== 12) return true;
    return c.thread!.members.has(this.opts.botUserId) || has(perms, Permission.ManageThreads);
  }

  /** A channel or thread by id, for the routes (undefined when unknown); threads due to archive do so now. */
  findChannel(id: string): ChannelRec | undefined {
    const c = this.channels.get(id);
    if (c) this.autoArchive(c);
    return c;
  }

  channel(id: string): ChannelRec {
    const c = this.findChannel(id);
    if (!c) throw new Error(`unknown channel ${id}`);
    return c;
  }

  // ---- permissions ---------------------------------------------------------

  /** Where a channel's permissions come from: threads inherit their parent's (developers/topics/permissions). */
  private permissionSource(c: ChannelRec): ChannelRec {
    return c.parentId ? (this.channels.get(c.parentId) ?? c) : c;
  }

  /** The bot's permissions in a channel: @everyone and its roles, then the channel's overwrites. */
  botPermissionsIn(c: ChannelRec): bigint {
    const guild = this.guild(c.guildId);
    const me = guild.members.get(this.opts.botUserId);
    const roleIds = me?.roles ?? [];
    let base = guild.roles[0]!.permissions;
    for (const r of guild.roles) if (roleIds.includes(r.id)) base |= r.permissions;
    return applyOverwrites(base, this.permissionSource(c).overwrites, guild.id, roleIds, this.opts.botUserId);
  }

  /** A member's permissions in a channel, as the interaction's `member.permissions` reports them. */
  memberPermissionsIn(c: ChannelRec, userId: string, base?: bigint): bigint {
    const guild = this.guild(c.guildId);
    if (guild.ownerId === userId) return ALL_PERMISSIONS;
    const roleIds = guild.members.get(userId)?.roles ?? [];
    return applyOverwrites(
      base ?? this.memberPermissions(guild, userId),
      this.permissionSource(c).overwrites,
      guild.id,
      roleIds,
      userId,
    );
  }

  /**
   * What the bot may do in a channel, implicit denials applied (developers/topics/permissions,
   * "Implicit Permissions"): without View Channel nothing; without Send Messages (Send Messages in
   * Threads, in a thread) no Attach Files or Embed Links either.
   */
  botCan(c: ChannelRec): {
    view: boolean;
    send: boolean;
    attach: boolean;
    embed: boolean;
    readHistory: boolean;
    manageMessages: boolean;
    manageThreads: boolean;
    bits: bigint;
  } {
    const bits = this.botPermissionsIn(c);
    const view = has(bits, Permission.ViewChannel) && (c.type !== 12 || this.botSeesThread(c));
    const send = view && has(bits, c.thread ? Permission.SendMessagesInThreads : Permission.SendMessages);
    return {
      view,
      send,
      attach: send && has(bits, Permission.AttachFiles),
      embed: send && has(bits, Permission.EmbedLinks),
      readHistory: view && has(bits, Permission.ReadMessageHistory),
      manageMessages: view && has(bits, Permission.ManageMessages),
      manageThreads: view && has(bits, Permission.ManageThreads),
      bits,
    };
  }

  /** Channel routes need View Channel first (50001). */
  viewableChannel(c: ChannelRec): void {
    if (!this.botCan(c).view) throw missingAccess();
  }

  /**
   * Thread rules for a write by the bot (developers/topics/threads): in an
   * archived thread messages cannot be edited (400 / 50083) and only deleted;
   * a new message unarchives it unless it is locked; in a locked thread only
   * members with MANAGE_THREADS may post or edit (50083, 403).
   */
  threadGate(c: ChannelRec, action: 'post' | 'edit' | 'delete'): void {
    const t = c.thread;
    if (!t) return;
    const manage = this.botCan(c).manageThreads;
    if (action === 'edit' && t.archived) throw threadArchived(400);
    if (action === 'delete') {
      if (t.archived && t.locked && !manage) throw threadArchived(403);
      return;
    }
    if (t.locked && !manage) throw threadArchived(403);
  }
  private addMember(guild: GuildRec, userId: string, permissions: bigint): MemberRec {
    const member: MemberRec = { userId, roles: this.rolesFor(guild, permissions), permissions, joinedAt: this.now() };
    guild.members.set(userId, member);
    return member;
  }

  setMemberPermissions(guildId: string, userId: string, permissions: string): void {
    const guild = this.guild(guildId);
    const bits = parsePermissions(permissions, DEFAULT_EVERYONE_PERMISSIONS);
    const existing = guild.members.get(userId);
    if (!existing) {
      this.user(userId);
      this.addMember(guild, userId, bits);
      return;
    }
    existing.permissions = bits;
    existing.roles = this.rolesFor(guild, bits);
  }

  // ---- roles ------------------------------------------------------------------
  // Shapes from discord-api-docs: resources/guild (Guild Member object: `roles`
  // is an array of role ids; @everyone is implied, never listed), topics/
  // permissions (base permissions = @everyone's OR every role's; ADMINISTRATOR
  // means all), events/gateway-events (GUILD_ROLE_CREATE {guild_id, role},
  // GUILD_ROLE_DELETE {guild_id, role_id} under the GUILDS intent;
  // GUILD_MEMBER_UPDATE {guild_id, roles, user, …} only under the privileged
  // GUILD_MEMBERS intent).

  /** A role a moderator made (not managed, no permissions beyond @everyone's unless given). */
  createRole(guildId: string, o: { name?: string; permissions?: string } = {}): RoleInfo {
    const guild = this.guild(guildId);
    const role: RoleRec = {
      id: this.ids.next(),
      name: o.name ?? `role-${guild.roles.length}`,
      permissions: parsePermissions(o.permissions, 0n),
      position: guild.roles.length,
      managed: false,
    };
    guild.roles.push(role);
    if (this.building !== guild.id)
      this.onGuildEvent('GUILD_ROLE_CREATE', { guild_id: guild.id, role: this.apiRole(role) });
    return { id: role.id, name: role.name, permissions: role.permissions.toString() };
  }

  /** Deletes a role: Discord takes it from every member and tells bots with GUILD_ROLE_DELETE. */
  deleteRole(guildId: string, roleId: string): void {
    const guild = this.guild(guildId);
    const role = guild.roles.find((r) => r.id === roleId);
    if (!role || role.id === guild.id || role.managed) throw new Error(`role ${roleId} cannot be deleted`);
    guild.roles = guild.roles.filter((r) => r.id !== roleId);
    for (const m of guild.members.values()) {
      if (!m.roles.includes(roleId)) continue;
      m.roles = m.roles.filter((r) => r !== roleId);
      m.permissions = this.permissionsFromRoles(guild, m.roles);
    }
    this.onGuildEvent('GUILD_ROLE_DELETE', { guild_id: guild.id, role_id: roleId });
  }

  /** Replaces a member's roles (Modify Guild Member `roles`); their permissions follow from the roles. */
  setMemberRoles(guildId: string, userId: string, roleIds: string[]): void {
    const guild = this.guild(guildId);
    const member = guild.members.get(userId);
    if (!member) throw new Error(`user ${userId} is not a member of guild ${guildId}`);
    for (const id of roleIds)
      if (id === guild.id || !guild.roles.some((r) => r.id === id)) throw new Error(`unknown role ${id}`);
    member.roles = [...new Set(roleIds)];
    member.permissions = this.permissionsFromRoles(guild, member.roles);
    const { user, roles, nick, avatar, joined_at, premium_since, pending, communication_disabled_until, flags } =
      this.apiMember(guild, userId);
    this.onGuildEvent(
      'GUILD_MEMBER_UPDATE',
      {
        guild_id: guild.id,
        user,
        roles,
        nick,
        avatar,
        joined_at,
        premium_since,
        pending,
        communication_disabled_until,
        flags,
      },
      GUILD_MEMBERS_INTENT,
    );
  }

  private permissionsFromRoles(guild: GuildRec, roleIds: readonly string[]): bigint {
    let bits = guild.roles[0]!.permissions;
    for (const r of guild.roles) if (roleIds.includes(r.id)) bits |= r.permissions;
    return effective(bits);
  }

  /**
   * discord.js computes `GuildMember.permissions` from roles, so a member
   * with more than @everyone gets a role holding exactly the extra bits.
   */
  private rolesFor(guild: GuildRec, permissions: bigint): string[] {
    const everyone = guild.roles[0]!.permissions;
    const extra = permissions & ~everyone;
    if (extra === 0n) return [];
    const existing = guild.roles.find((r) => !r.managed && r.position > 0 && r.permissions === permissions);
    if (existing) return [existing.id];
    const role: RoleRec = {
      id: this.ids.next(),
      name: `perms-${permissions}`,
      permissions,
      position: guild.roles.length,
      managed: false,
    };
    guild.roles.push(role);
    if (this.building !== guild.id)
      this.onGuildEvent('GUILD_ROLE_CREATE', { guild_id: guild.id, role: this.apiRole(role) });
    return [role.id];
  }

  commandScope(guildId?: string): CommandScope {
    if (!guildId) return this.globalCommands;
    let scope = this.guildCommands.get(guildId);
    if (!scope) {
      scope = new CommandScope(this.opts.applicationId, guildId, () => this.ids.next());
      this.guildCommands.set(guildId, scope);
    }
    return scope;
  }

  // ---- API shapes ----------------------------------------------------------

  apiUser(id: string): APIUser {
    const u = this.user(id);
    // Built loosely and cast: the flags are enums without a 0 member in discord-api-types.
    const base = {
      id: u.id,
      username: u.username,
      discriminator: u.discriminator,
      global_name: u.globalName,
      avatar: null,
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      avatar_decoration_data: null,
      collectibles: null,
      primary_guild: null,
    } as unknown as APIUser;
    return u.bot ? { ...base, bot: true } : base;
  }

  /** The bot as `GET /users/@me` and READY describe it. */
  apiSelf(): APIUser {
    return { ...this.apiUser(this.opts.botUserId), verified: true, mfa_enabled: true, email: null, locale: 'en-US' };
  }

  apiRole(r: RoleRec): Json {
    return {
      id: r.id,
      name: r.name,
      description: null,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: r.position,
      permissions: r.permissions.toString(),
      managed: r.managed,
      mentionable: false,
      flags: 0,
      ...(r.botId ? { tags: { bot_id: r.botId } } : {}),
    };
  }

  apiMember(guild: GuildRec, userId: string, withPermissions?: bigint): Json {
    const m = guild.members.get(userId);
    const member: Json = {
      user: this.apiUser(userId),
      nick: null,
      avatar: null,
      banner: null,
      roles: m?.roles ?? [],
      joined_at: iso(m?.joinedAt ?? this.now()),
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
      unusual_dm_activity_until: null,
    };
    if (withPermissions !== undefined) member.permissions = withPermissions.toString();
    return member;
  }

  /** A member's permissions as the interaction payload reports them. */
  memberPermissions(guild: GuildRec, userId: string): bigint {
    if (guild.ownerId === userId) return ALL_PERMISSIONS;
    return guild.members.get(userId)?.permissions ?? guild.roles[0]!.permissions;
  }

  apiChannel(c: ChannelRec): Json {
    if (c.thread) {
      const t = c.thread;
      return {
        id: c.id,
        type: c.type,
        guild_id: c.guildId,
        parent_id: c.parentId,
        owner_id: c.ownerId,
        name: c.name,
        last_message_id: c.lastMessageId,
        rate_limit_per_user: 0,
        flags: 0,
        message_count: t.messageCount,
        member_count: Math.min(t.members.size, 50),
        total_message_sent: t.totalMessageSent,
        thread_metadata: {
          archived: t.archived,
          auto_archive_duration: t.autoArchiveMinutes,
          archive_timestamp: iso(t.archiveTimestamp),
          locked: t.locked,
          create_timestamp: iso(t.createTimestamp),
          ...(c.type === 12 ? { invitable: t.invitable } : {}),
        },
        applied_tags: [],
        ...(t.members.has(this.opts.botUserId)
          ? {
              member: {
                id: c.id,
                user_id: this.opts.botUserId,
                join_timestamp: iso(t.createTimestamp),
                flags: 0,
              },
            }
          : {}),
      };
    }
    return {
      id: c.id,
      type: c.type,
      guild_id: c.guildId,
      name: c.name,
      position: c.position,
      permission_overwrites: c.overwrites.map((o) => ({
        id: o.id,
        type: o.type,
        allow: o.allow.toString(),
        deny: o.deny.toString(),
      })),
      topic: null,
      nsfw: false,
      last_message_id: c.lastMessageId,
      rate_limit_per_user: 0,
      parent_id: null,
      flags: 0,
      icon_emoji: null,
      theme_color: null,
    };
  }

  apiGuildCreate(g: GuildRec): Json {
    const inGuild = [...this.channels.values()].filter((c) => c.guildId === g.id);
    const channels = inGuild
      .filter((c) => !c.thread)
      .map((c) => {
        const { guild_id: _omit, ...rest } = this.apiChannel(c);
        return rest;
      });
    // "all active threads in the guild that the current user is able to view" (developers/topics/threads).
    const threads = inGuild
      .filter((c) => c.thread)
      .map((c) => {
        this.autoArchive(c);
        return c;
      })
      .filter((c) => !c.thread!.archived && this.botSeesThread(c))
      .map((c) => this.apiChannel(c));
    return {
      id: g.id,
      name: g.name,
      icon: null,
      icon_hash: null,
      splash: null,
      discovery_splash: null,
      owner_id: g.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      widget_enabled: false,
      widget_channel_id: null,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: g.roles.map((r) => this.apiRole(r)),
      emojis: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: channels[0]?.id ?? null,
      system_channel_flags: 0,
      rules_channel_id: null,
      max_presences: null,
      max_members: 500_000,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: g.premiumTier,
      premium_subscription_count: [0, 2, 7, 14][g.premiumTier],
      preferred_locale: g.locale,
      public_updates_channel_id: null,
      max_video_channel_users: 25,
      max_stage_video_channel_users: 50,
      nsfw_level: 0,
      nsfw: false,
      stickers: [],
      premium_progress_bar_enabled: false,
      safety_alerts_channel_id: null,
      incidents_data: null,
      joined_at: iso(g.joinedAt),
      large: false,
      unavailable: false,
      member_count: g.members.size,
      voice_states: [],
      members: [...g.members.keys()].map((userId) => this.apiMember(g, userId)),
      channels,
      threads,
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      lazy: true,
      application_command_counts: {},
      embedded_activities: [],
      activity_instances: [],
      version: 0,
      hub_type: null,
      latest_onboarding_question_id: null,
    };
  }

  // ---- attachments and the CDN ---------------------------------------------

  storeAttachment(
    file: { filename: string; data: Buffer; contentType: string | null },
    folder: AttachmentRec['folder'],
    scopeId: string,
    extra: Partial<Pick<AttachmentRec, 'description' | 'title' | 'spoiler' | 'ephemeral'>> = {},
  ): AttachmentRec {
    const filename = sanitizeFilename(file.filename);
    const rec: AttachmentRec = {
      id: this.ids.next(),
      filename: extra.spoiler && !filename.startsWith('SPOILER_') ? `SPOILER_${filename}` : filename,
      size: file.data.length,
      sha256: sha256(file.data),
      contentType: contentTypeFor(filename, file.contentType),
      data: file.data,
      folder,
      scopeId,
      ephemeral: extra.ephemeral ?? folder === 'ephemeral-attachments',
      ...(extra.description !== undefined ? { description: extra.description } : {}),
      ...(extra.title !== undefined ? { title: extra.title } : {}),
      ...(extra.spoiler ? { spoiler: true } : {}),
      ...imageSize(file.data),
    };
    this.attachments.set(rec.id, rec);
    this.counters.uploadedBytes += rec.size;
    return rec;
  }

  private sign(path: string, ex: number, is: number): string {
    return createHmac('sha256', this.signingKey).update(`${path}:${ex}:${is}`).digest('hex');
  }

  /** A freshly signed, expiring URL like Discord's `?ex=…&is=…&hm=…&`. */
  attachmentUrl(a: AttachmentRec, host: 'cdn' | 'media' = 'cdn'): string {
    const path = `/${a.folder}/${a.scopeId}/${a.id}/${encodeURIComponent(a.filename)}`;
    const is = Math.floor(this.now() / 1000);
    const ex = Math.floor((this.now() + this.opts.attachmentUrlLifetimeMs) / 1000);
    return `${this.opts.baseUrl()}/${host}${path}?ex=${ex.toString(16)}&is=${is.toString(16)}&hm=${this.sign(path, ex, is)}&`;
  }

  /** Looks up a CDN path and checks its signature and expiry on the emulator clock. */
  resolveCdn(
    folder: string,
    scopeId: string,
    id: string,
    filename: string,
    query: URLSearchParams,
  ): AttachmentRec | 'expired' | undefined {
    const a = this.attachments.get(id);
    if (!a || a.folder !== folder || a.scopeId !== scopeId || a.filename !== filename) return undefined;
    const ex = parseInt(query.get('ex') ?? '', 16);
    const is = parseInt(query.get('is') ?? '', 16);
    const hm = query.get('hm') ?? '';
    const path = `/${a.folder}/${a.scopeId}/${a.id}/${encodeURIComponent(a.filename)}`;
    const want = Buffer.from(this.sign(path, ex, is));
    const got = Buffer.from(hm);
    if (!Number.isFinite(ex) || !Number.isFinite(is) || want.length !== got.length || !timingSafeEqual(want, got))
      return 'expired';
    if (this.now() >= ex * 1000) return 'expired';
    return a;
  }

  apiAttachment(a: AttachmentRec): APIAttachment {
    return {
      id: a.id,
      filename: a.filename,
      size: a.size,
      url: this.attachmentUrl(a, 'cdn'),
      proxy_url: this.attachmentUrl(a, 'media'),
      ...(a.contentType ? { content_type: a.contentType } : {}),
      ...(a.description !== undefined ? { description: a.description } : {}),
      ...(a.title !== undefined ? { title: a.title } : {}),
      ...(a.width !== undefined ? { width: a.width, height: a.height ?? null } : {}),
      ...(a.ephemeral ? { ephemeral: true } : {}),
      ...(a.spoiler ? { flags: 1 << 3 } : {}),
    };
  }

  // ---- messages --------------------------------------------------------------

  /** Renders `attachment://name` references to the attachment's CDN URL, as Discord returns them. */
  private renderAttachmentRefs<T>(value: T, attachments: AttachmentRec[]): T {
    if (typeof value === 'string') {
      if (!value.startsWith('attachment://')) return value;
      const a = attachments.find((x) => x.filename === sanitizeFilename(value.slice('attachment://'.length)));
      return (a ? this.attachmentUrl(a) : value) as T;
    }
    if (Array.isArray(value)) return value.map((v: unknown) => this.renderAttachmentRefs(v, attachments)) as T;
    if (typeof value === 'object' && value !== null) {
      const out: Json = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.renderAttachmentRefs(v, attachments);
      return out as T;
    }
    return value;
  }

  apiMessage(m: MessageRec, extra: { nonce?: string | number } = {}): APIMessage {
    const message = {
      type: m.type,
      content: m.content,
      mentions: [],
      mention_roles: [],
      attachments: m.attachments.map((a) => this.apiAttachment(a)),
      embeds: this.renderAttachmentRefs(m.embeds, m.attachments),
      timestamp: iso(m.createdAt),
      edited_timestamp: m.editedAt === null ? null : iso(m.editedAt),
      flags: m.flags,
      components: this.renderAttachmentRefs(m.components, m.attachments),
      id: m.id,
      channel_id: m.channelId,
      author: this.apiUser(m.authorId),
      pinned: false,
      mention_everyone: false,
      tts: m.tts,
      ...(m.webhookId ? { webhook_id: m.webhookId } : {}),
      ...(m.applicationId ? { application_id: m.applicationId } : {}),
      ...(m.interactionMetadata ? { interaction_metadata: m.interactionMetadata } : {}),
      ...(m.legacyInteraction ? { interaction: m.legacyInteraction } : {}),
      ...(m.messageReference ? { message_reference: m.messageReference } : {}),
      ...(extra.nonce !== undefined ? { nonce: extra.nonce } : {}),
    };
    return message as unknown as APIMessage;
  }

  /** The message a channel route may see: not deleted, not ephemeral. */
  channelMessage(channelId: string, messageId: string): MessageRec {
    const m = this.messages.get(messageId);
    if (!m || m.deleted || m.channelId !== channelId || m.visibleTo !== null) throw unknownMessage();
    return m;
  }

  /** Visible messages of a channel, oldest first. */
  visibleMessages(channelId: string): MessageRec[] {
    return [...this.messages.values()].filter((m) => m.channelId === channelId && !m.deleted && m.visibleTo === null);
  }

  findByNonce(channelId: string, authorId: string, nonce: string | number): MessageRec | undefined {
    const key = `${channelId}:${authorId}:${typeof nonce}:${nonce}`;
    const hit = this.nonces.get(key);
    if (!hit || this.now() - hit.at > this.opts.nonceWindowMs) return undefined;
    const m = this.messages.get(hit.messageId);
    return m && !m.deleted ? m : undefined;
  }

  createMessage(
    channelId: string,
    authorId: string,
    write: MessageWrite,
    meta: {
      via: Via;
      type: number;
      /** Flags the route adds on its own (e.g. LOADING on a deferral). */
      extraFlags?: number;
      visibleTo?: string | null;
      webhookId?: string;
      interactionId?: string;
      interactionMetadata?: Json;
      legacyInteraction?: Json;
      messageReference?: Json;
    },
  ): MessageRec {
    const channel = this.channel(channelId);
    const flags = ((write.flags ?? 0) | (meta.extraFlags ?? 0)) & ~(meta.visibleTo ? 0 : MessageFlag.Ephemeral);
    const ephemeral = Boolean(meta.visibleTo);
    const attachments = this.attachFiles([], write, ephemeral, channelId);
    const m: MessageRec = {
      id: this.ids.next(),
      channelId,
      guildId: channel.guildId,
      authorId,
      content: write.content ?? '',
      embeds: write.embeds ?? [],
      components: write.components ?? [],
      attachments,
      flags: ephemeral ? flags | MessageFlag.Ephemeral : flags,
      type: meta.type,
      createdAt: this.now(),
      editedAt: null,
      deleted: false,
      visibleTo: meta.visibleTo ?? null,
      tts: write.tts,
      ...(meta.webhookId ? { webhookId: meta.webhookId, applicationId: this.opts.applicationId } : {}),
      ...(meta.interactionId ? { interactionId: meta.interactionId } : {}),
      ...(meta.interactionMetadata ? { interactionMetadata: meta.interactionMetadata } : {}),
      ...(meta.legacyInteraction ? { legacyInteraction: meta.legacyInteraction } : {}),
      ...((write.messageReference ?? meta.messageReference)
        ? { messageReference: write.messageReference ?? meta.messageReference }
        : {}),
    };
    this.messages.set(m.id, m);
    if (!ephemeral) channel.lastMessageId = m.id;
    const t = channel.thread;
    if (t && !ephemeral) {
      t.messageCount += 1;
      t.totalMessageSent += 1;
      t.lastActivityAt = this.now();
      // "Sending a message will automatically unarchive the thread" (developers/topics/threads);
      // the routes refuse first when it is locked and the author may not manage threads.
      if (t.archived) {
        t.archived = false;
        t.archiveTimestamp = this.now();
        if (this.botSeesThread(channel)) this.onGuildEvent('THREAD_UPDATE', this.apiChannel(channel));
      }
    }
    if (write.nonce !== undefined && write.enforceNonce) {
      this.nonces.set(`${channelId}:${authorId}:${typeof write.nonce}:${write.nonce}`, {
        messageId: m.id,
        at: this.now(),
      });
    }
    this.counters.messagesCreated++;
    this.record('create', m, meta.via, meta.interactionId ?? null, true);
    return m;
  }

  /**
   * Works out the attachments after a write. API v10: on edit, an
   * `attachments` array lists everything that stays (kept ids plus new
   * files by index); without it, new files are appended.
   */
  private attachFiles(
    existing: AttachmentRec[],
    write: MessageWrite,
    ephemeral: boolean,
    channelId: string,
  ): AttachmentRec[] {
    const folder = ephemeral ? 'ephemeral-attachments' : 'attachments';
    const scope = ephemeral ? this.opts.applicationId : channelId;
    const store = (
      f: UploadedFile,
      ref?: { filename?: string; description?: string; title?: string; spoiler?: boolean },
    ): AttachmentRec =>
      this.storeAttachment(
        { filename: ref?.filename ?? f.filename, data: f.data, contentType: f.contentType },
        folder,
        scope,
        {
          ...(ref?.description !== undefined ? { description: ref.description } : {}),
          ...(ref?.title !== undefined ? { title: ref.title } : {}),
          ...(ref?.spoiler ? { spoiler: true } : {}),
          ephemeral,
        },
      );
    if (write.attachments === undefined) return [...existing, ...write.files.map((f) => store(f))];
    const out: AttachmentRec[] = [];
    write.attachments.forEach((ref, i) => {
      const kept = existing.find((a) => a.id === ref.id);
      if (kept) {
        if (ref.description !== undefined) kept.description = ref.description;
        out.push(kept);
        return;
      }
      const file = write.files.find((f) => String(f.index) === ref.id);
      if (!file) throw formError(['attachments', i, 'id'], 'ATTACHMENT_NOT_FOUND', `Unknown attachment id ${ref.id}`);
      out.push(store(file, ref));
    });
    return out;
  }

  editMessage(m: MessageRec, write: MessageWrite, via: Via, interactionId: string | null): MessageRec {
    if (m.deleted) throw unknownMessage();
    const wasLoading = (m.flags & MessageFlag.Loading) !== 0;
    const content = write.content ?? m.content;
    const embeds = write.embeds ?? m.embeds;
    const components = write.components ?? m.components;
    const editable = MessageFlag.SuppressEmbeds | MessageFlag.IsComponentsV2;
    let flags = write.flags === undefined ? m.flags : (m.flags & ~editable) | (write.flags & editable);
    flags &= ~MessageFlag.Loading;
    const v2 = (flags & MessageFlag.IsComponentsV2) !== 0;
    if (v2 && (content.length > 0 || embeds.length > 0)) {
      throw formError(
        [content.length > 0 ? 'content' : 'embeds'],
        'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2',
        'The content and embeds fields cannot be used when using MessageFlags.IS_COMPONENTS_V2',
      );
    }
    const attachments = this.attachFiles(m.attachments, write, m.visibleTo !== null, m.channelId);
    if (content.length === 0 && embeds.length === 0 && components.length === 0 && attachments.length === 0)
      throw emptyMessage();
    const before = this.visibleState(m);
    m.content = content;
    m.embeds = embeds;
    m.components = components;
    m.flags = flags;
    m.attachments = attachments;
    // Completing a deferred reply is its first content, not an edit a member sees as "(edited)".
    if (!wasLoading) m.editedAt = this.now();
    this.counters.messagesEdited++;
    this.record('edit', m, via, interactionId, before !== this.visibleState(m));
    return m;
  }

  deleteMessage(m: MessageRec, via: Via, interactionId: string | null): void {
    if (m.deleted) throw unknownMessage();
    m.deleted = true;
    const t = this.channels.get(m.channelId)?.thread;
    if (t && m.visibleTo === null) t.messageCount = Math.max(0, t.messageCount - 1);
    this.counters.messagesDeleted++;
    this.record('delete', m, via, interactionId, true);
  }

  private visibleState(m: MessageRec): string {
    return JSON.stringify([
      m.content,
      m.embeds,
      m.components,
      m.attachments.map((a) => a.sha256 + a.filename),
      m.flags,
    ]);
  }

  // ---- timeline -----------------------------------------------------------------

  private record(
    kind: TimelineEntry['kind'],
    m: MessageRec,
    via: Via,
    interactionId: string | null,
    changed: boolean,
  ): void {
    const entries = this.timelines.get(m.channelId) ?? [];
    this.timelines.set(m.channelId, entries);
    const attachments: TimelineAttachment[] = m.attachments.map((a) => ({
      id: a.id,
      filename: a.filename,
      size: a.size,
      sha256: a.sha256,
      content_type: a.contentType,
    }));
    entries.push({
      seq: ++this.timelineSeq,
      at: this.now(),
      kind,
      channelId: m.channelId,
      messageId: m.id,
      authorId: m.authorId,
      content: m.content,
      embeds: structuredClone(m.embeds),
      attachments,
      components: structuredClone(m.components),
      flags: m.flags,
      ephemeral: m.visibleTo !== null,
      visibleTo: m.visibleTo,
      loading: (m.flags & MessageFlag.Loading) !== 0,
      changed,
      via,
      interactionId,
    });
  }

  timeline(channelId: string): TimelineEntry[] {
    return structuredClone(this.timelines.get(channelId) ?? []);
  }

  /**
   * Upload limit check shared by every route that takes files. The limit is
   * per file ("The file upload size limit applies to each file in a
   * request", developers/reference "Uploading Files"; per attachment since
   * 2025-04-03, change-log "Per-Attachment File Upload Behavior for Apps").
   */
  static checkUploadSize(files: UploadedFile[], limit: number): void {
    if (files.some((f) => f.size > limit)) throw new DiscordError(413, 40005, 'Request entity too large');
  }
}

function toOverwrite(spec: PermissionOverwriteSpec): Overwrite {
  if (spec.type !== 'role' && spec.type !== 'member') throw new Error(`overwrite type must be role or member`);
  return {
    id: spec.id,
    type: spec.type === 'role' ? 0 : 1,
    allow: parsePermissions(spec.allow, 0n),
    deny: parsePermissions(spec.deny, 0n),
  };
}
