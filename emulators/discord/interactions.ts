/**
 * Interactions: what a user's action dispatches (INTERACTION_CREATE with
 * every field discord.js reads), and what Discord enforces on the answers —
 * the acknowledgement window, one acknowledgement only, the token lifetime
 * on webhook routes, and which callback types fit which interaction.
 */
import { randomBytes } from 'node:crypto';
import type { ParsedBody } from './body.js';
import { OptionType, type CommandOption, type StoredCommand } from './commands.js';
import {
  alreadyAcknowledged,
  formError,
  invalidWebhookToken,
  unknownInteraction,
  unknownMessage,
  unknownWebhook,
} from './errors.js';
import { Permission, effective, has, parsePermissions } from './permissions.js';
import type {
  Acknowledgement,
  AutocompleteInvocation,
  ButtonClick,
  CallbackRecord,
  InteractionHandle,
  InteractionKind,
  ModalSubmission,
  OptionValue,
  RefusedCallback,
  SlashCommandInvocation,
} from './types.js';
import {
  MessageFlag,
  parseMessageWrite,
  validateChoices,
  validateModal,
  type AutocompleteChoice,
  type ModalData,
  type ModalInput,
} from './validate.js';
import { World, type AttachmentRec, type GuildRec, type MessageRec } from './world.js';

type Json = Record<string, unknown>;

const InteractionType = { ApplicationCommand: 2, MessageComponent: 3, Autocomplete: 4, ModalSubmit: 5 } as const;

/** Callback types each kind of interaction accepts. */
const ALLOWED_CALLBACKS: Record<InteractionKind, readonly number[]> = {
  command: [4, 5, 9],
  component: [4, 5, 6, 7, 9],
  modal: [4, 5, 6, 7],
  autocomplete: [8],
};

export interface InteractionRec {
  id: string;
  token: string;
  type: number;
  kind: InteractionKind;
  guildId: string;
  channelId: string;
  userId: string;
  createdAt: number;
  createdHr: number;
  attachmentSizeLimit: number;
  payload: Json;
  ack: Acknowledgement | null;
  response: CallbackRecord | null;
  callbackErrors: RefusedCallback[];
  originalMessageId: string | null;
  /** The message a component sat on (and that a modal from it belongs to). */
  sourceMessageId: string | null;
  followUpIds: string[];
  modal: { data: ModalData; inputs: ModalInput[]; submitted: boolean } | null;
  choices: AutocompleteChoice[] | null;
  focusedType: number | null;
  commandName: string | null;
  metadata: Json;
  legacy: Json | null;
  deliveredTo: number;
  waiters: (() => void)[];
}

export interface InteractionsOptions {
  applicationId: string;
  botUserId: string;
  ackWindowMs: number;
  tokenLifetimeMs: number;
  /** Sends INTERACTION_CREATE; returns the sessions reached. */
  dispatch(payload: Json): number;
  /** Runs before an edit through the webhook is applied (the cap on edits of old messages); may throw. */
  beforeEdit(m: MessageRec): void;
}

export interface CallbackResult {
  status: 200 | 204;
  body?: unknown;
  /** Message ids touched, for the request log. */
  messageId?: string;
}

/** A token in Discord's style: base64url of `interaction:<id>:<secret>`. */
function makeToken(id: string): string {
  return Buffer.from(`interaction:${id}:${randomBytes(48).toString('base64url')}`).toString('base64url');
}

export class Interactions {
  private readonly byId = new Map<string, InteractionRec>();
  private readonly byToken = new Map<string, InteractionRec>();

  constructor(
    private readonly world: World,
    private readonly opts: InteractionsOptions,
  ) {}

  get(id: string): InteractionRec | undefined {
    return this.byId.get(id);
  }

  byTokenValue(token: string): InteractionRec | undefined {
    return this.byToken.get(token);
  }

  // ---- user actions --------------------------------------------------------------

  invokeSlashCommand(o: SlashCommandInvocation): InteractionHandle {
    const { guild, command } = this.commandFor(o.guildId, o.channelId, o.name);
    const permissions = this.permissionsOf(guild, o.userId, o.permissions, o.channelId);
    const required = command.default_member_permissions;
    if (required !== null && !o.permissionOverride) {
      const bits = BigInt(required);
      // "0" hides the command from everyone but administrators.
      const visible = bits === 0n ? (effective(permissions) & Permission.Administrator) !== 0n : has(permissions, bits);
      if (!visible) {
        throw new Error(
          `/${o.name} is hidden from this member (default_member_permissions ${required}); pass permissionOverride to simulate an admin override`,
        );
      }
    }
    const resolved: Resolved = {};
    const attachmentsByName = new Map<string, AttachmentRec>();
    for (const file of o.attachments ?? []) {
      const a = this.world.storeAttachment(
        { filename: file.filename, data: file.data, contentType: file.contentType ?? null },
        'ephemeral-attachments',
        this.opts.applicationId,
      );
      attachmentsByName.set(file.filename, a);
    }
    const options = this.buildOptions(command, o, guild, permissions, resolved, attachmentsByName, null);
    const unused = [...attachmentsByName.keys()].filter(
      (name) => !Object.values(resolved.attachments ?? {}).some((a) => a.id === attachmentsByName.get(name)!.id),
    );
    if (unused.length > 0) throw new Error(`attachments not used by any attachment option: ${unused.join(', ')}`);
    const data: Json = {
      id: command.id,
      name: command.name,
      type: 1,
      ...(command.guild_id ? { guild_id: command.guild_id } : {}),
      ...(options.length > 0 ? { options } : {}),
      ...(Object.keys(resolved).length > 0 ? { resolved: this.renderResolved(resolved, guild) } : {}),
    };
    const rec = this.create('command', InteractionType.ApplicationCommand, o, guild, permissions, data, {
      commandName: command.name,
      metadataExtra: { name: fullName(command.name, o.subcommandGroup, o.subcommand), command_type: 1 },
    });
    return this.handle(rec);
  }

  autocomplete(o: AutocompleteInvocation): InteractionHandle {
    const { guild, command } = this.commandFor(o.guildId, o.channelId, o.name);
    const permissions = this.permissionsOf(guild, o.userId, o.permissions, o.channelId);
    const resolved: Resolved = {};
    const focus = { name: o.focused, type: null as number | null };
    const options = this.buildOptions(command, o, guild, permissions, resolved, new Map(), focus);
    if (focus.type === null) throw new Error(`option ${o.focused} of /${o.name} does not have autocomplete enabled`);
    const data: Json = {
      id: command.id,
      name: command.name,
      type: 1,
      ...(command.guild_id ? { guild_id: command.guild_id } : {}),
      options,
    };
    const rec = this.create('autocomplete', InteractionType.Autocomplete, o, guild, permissions, data, {
      commandName: command.name,
      metadataExtra: {},
    });
    rec.focusedType = focus.type;
    return this.handle(rec);
  }

  clickButton(o: ButtonClick): InteractionHandle {
    const message = this.world.messages.get(o.messageId);
    if (!message || message.deleted) throw new Error(`message ${o.messageId} is not there to click on`);
    if (message.visibleTo !== null && message.visibleTo !== o.userId)
      throw new Error(`message ${o.messageId} is ephemeral and not shown to user ${o.userId}`);
    const button = findComponent(message.components, (c) => c.type === 2 && c.custom_id === o.customId);
    if (!button) throw new Error(`message ${o.messageId} has no button with custom_id ${JSON.stringify(o.customId)}`);
    if (button.disabled === true) throw new Error(`button ${o.customId} is disabled`);
    const guild = this.world.guild(message.guildId);
    const permissions = this.permissionsOf(guild, o.userId, o.permissions, message.channelId);
    const data: Json = {
      custom_id: o.customId,
      component_type: 2,
      ...(typeof button.id === 'number' ? { id: button.id } : {}),
    };
    const rec = this.create(
      'component',
      InteractionType.MessageComponent,
      { ...o, guildId: message.guildId, channelId: message.channelId },
      guild,
      permissions,
      data,
      { commandName: null, metadataExtra: { interacted_message_id: message.id }, message },
    );
    return this.handle(rec);
  }

  submitModal(o: ModalSubmission): InteractionHandle {
    const source = o.from ? this.byId.get(o.from.id) : this.lastModalShown(o.userId, o.customId);
    if (!source?.modal)
      throw new Error(`no modal with custom_id ${JSON.stringify(o.customId)} was shown to user ${o.userId}`);
    if (source.modal.data.custom_id !== o.customId)
      throw new Error(`the modal shown has custom_id ${source.modal.data.custom_id}, not ${o.customId}`);
    if (source.userId !== o.userId) throw new Error(`the modal was shown to user ${source.userId}, not ${o.userId}`);
    if (source.modal.submitted)
      throw new Error(`modal ${o.customId} of interaction ${source.id} was already submitted`);
    const inputs = source.modal.inputs;
    for (const name of Object.keys(o.fields)) {
      if (!inputs.some((i) => i.customId === name)) throw new Error(`modal ${o.customId} has no text input ${name}`);
    }
    for (const input of inputs) {
      const value = o.fields[input.customId] ?? '';
      if (input.required && value.length === 0) throw new Error(`text input ${input.customId} is required`);
      if (value.length > 0 && (value.length < input.minLength || value.length > input.maxLength)) {
        throw new Error(`text input ${input.customId} takes ${input.minLength}–${input.maxLength} characters`);
      }
    }
    source.modal.submitted = true;
    let nextId = 1;
    const components = source.modal.data.components.map((c) => {
      if (c.type === 1) {
        const child = (c.components as Json[])[0]!;
        const customId = String(child.custom_id);
        return {
          type: 1,
          id: nextId++,
          components: [{ type: 4, id: nextId++, custom_id: customId, value: o.fields[customId] ?? '' }],
        };
      }
      if (c.type === 18) {
        const child = c.component as Json;
        const customId = String(child.custom_id);
        return {
          type: 18,
          id: nextId++,
          component: { type: 4, id: nextId++, custom_id: customId, value: o.fields[customId] ?? '' },
        };
      }
      return { type: c.type, id: nextId++ };
    });
    const guild = this.world.guild(source.guildId);
    const permissions = this.permissionsOf(guild, o.userId, o.permissions, source.channelId);
    const message = source.sourceMessageId ? this.world.messages.get(source.sourceMessageId) : undefined;
    const rec = this.create(
      'modal',
      InteractionType.ModalSubmit,
      { ...o, guildId: source.guildId, channelId: source.channelId },
      guild,
      permissions,
      { custom_id: o.customId, components },
      {
        commandName: null,
        metadataExtra: { triggering_interaction_metadata: source.metadata },
        ...(message && !message.deleted ? { message } : {}),
      },
    );
    return this.handle(rec);
  }

  private lastModalShown(userId: string, customId: string): InteractionRec | undefined {
    return [...this.byId.values()]
      .reverse()
      .find((r) => r.userId === userId && r.modal?.data.custom_id === customId && !r.modal.submitted);
  }

  private commandFor(guildId: string, channelId: string, name: string): { guild: GuildRec; command: StoredCommand } {
    const guild = this.world.guild(guildId);
    const channel = this.world.channel(channelId);
    if (channel.guildId !== guildId) throw new Error(`channel ${channelId} is not in guild ${guildId}`);
    // "Users cannot edit messages, add reactions, use application commands, or join archived
    // threads" (developers/topics/threads): the client offers no commands there.
    if (channel.thread?.archived)
      throw new Error(`thread ${channelId} is archived: a member cannot use commands there (unarchive it first)`);
    const command = this.world.commandScope(guildId).find(name) ?? this.world.globalCommands.find(name);
    if (!command)
      throw new Error(`/${name} is not registered (globally or in guild ${guildId}); a user cannot invoke it`);
    if (command.contexts && !command.contexts.includes(0))
      throw new Error(`/${name} is not available in servers (contexts ${command.contexts.join(',')})`);
    return { guild, command };
  }

  /** The member's permissions in the channel (overwrites applied), unless the test gave them. */
  private permissionsOf(guild: GuildRec, userId: string, override: string | undefined, channelId: string): bigint {
    this.world.user(userId);
    if (!guild.members.has(userId)) throw new Error(`user ${userId} is not a member of guild ${guild.id}`);
    if (override !== undefined) return parsePermissions(override, 0n);
    return this.world.memberPermissionsIn(this.world.channel(channelId), userId);
  }

  private buildOptions(
    command: StoredCommand,
    o: {
      subcommandGroup?: string;
      subcommand?: string;
      options?: Record<string, OptionValue>;
      guildId: string;
      userId: string;
      name: string;
    },
    guild: GuildRec,
    permissions: bigint,
    resolved: Resolved,
    attachments: Map<string, AttachmentRec>,
    focus: { name: string; type: number | null } | null,
  ): Json[] {
    const defs = command.options ?? [];
    const hasSubs = defs.some((d) => d.type === OptionType.Subcommand || d.type === OptionType.SubcommandGroup);
    if (!hasSubs) {
      if (o.subcommand || o.subcommandGroup) throw new Error(`/${command.name} has no subcommands`);
      return this.leafOptions(
        defs,
        o.options ?? {},
        guild,
        permissions,
        resolved,
        attachments,
        focus,
        `/${command.name}`,
      );
    }
    if (o.subcommandGroup) {
      const group = defs.find((d) => d.type === OptionType.SubcommandGroup && d.name === o.subcommandGroup);
      if (!group) throw new Error(`/${command.name} has no subcommand group ${o.subcommandGroup}`);
      const sub = (group.options ?? []).find((d) => d.name === o.subcommand);
      if (!sub) throw new Error(`/${command.name} ${group.name} has no subcommand ${String(o.subcommand)}`);
      const leaves = this.leafOptions(
        sub.options ?? [],
        o.options ?? {},
        guild,
        permissions,
        resolved,
        attachments,
        focus,
        `/${command.name} ${group.name} ${sub.name}`,
      );
      return [{ type: 2, name: group.name, options: [{ type: 1, name: sub.name, options: leaves }] }];
    }
    const sub = defs.find((d) => d.type === OptionType.Subcommand && d.name === o.subcommand);
    if (!sub) throw new Error(`/${command.name} needs a subcommand (one of ${defs.map((d) => d.name).join(', ')})`);
    const leaves = this.leafOptions(
      sub.options ?? [],
      o.options ?? {},
      guild,
      permissions,
      resolved,
      attachments,
      focus,
      `/${command.name} ${sub.name}`,
    );
    return [{ type: 1, name: sub.name, options: leaves }];
  }

  /** Turns typed values into option payloads, refusing what Discord's client would not let a user send. */
  private leafOptions(
    defs: CommandOption[],
    values: Record<string, OptionValue>,
    guild: GuildRec,
    permissions: bigint,
    resolved: Resolved,
    attachments: Map<string, AttachmentRec>,
    focus: { name: string; type: number | null } | null,
    label: string,
  ): Json[] {
    for (const name of Object.keys(values)) {
      if (!defs.some((d) => d.name === name)) throw new Error(`${label} has no option ${name}`);
    }
    const out: Json[] = [];
    for (const def of defs) {
      const value = values[def.name];
      if (focus && def.name === focus.name) {
        if (!def.autocomplete) throw new Error(`option ${def.name} of ${label} does not have autocomplete enabled`);
        focus.type = def.type;
        out.push({ type: def.type, name: def.name, value: value === undefined ? '' : String(value), focused: true });
        continue;
      }
      if (value === undefined) {
        if (def.required && !focus) throw new Error(`${label}: option ${def.name} is required`);
        continue;
      }
      out.push({
        type: def.type,
        name: def.name,
        value: this.optionValue(def, value, guild, permissions, resolved, attachments, label),
      });
    }
    return out;
  }

  private optionValue(
    def: CommandOption,
    value: OptionValue,
    guild: GuildRec,
    permissions: bigint,
    resolved: Resolved,
    attachments: Map<string, AttachmentRec>,
    label: string,
  ): OptionValue {
    const where = `${label} option ${def.name}`;
    const checkChoices = (): void => {
      if (def.choices && !def.choices.some((c) => c.value === value)) {
        throw new Error(
          `${where}: ${JSON.stringify(value)} is not one of the choices ${def.choices.map((c) => JSON.stringify(c.value)).join(', ')}`,
        );
      }
    };
    switch (def.type) {
      case OptionType.String: {
        if (typeof value !== 'string') throw new Error(`${where} takes a string`);
        const n = [...value].length;
        if (n < (def.min_length ?? 0) || n > (def.max_length ?? 6000))
          throw new Error(`${where} takes ${def.min_length ?? 0}–${def.max_length ?? 6000} characters`);
        checkChoices();
        return value;
      }
      case OptionType.Integer:
      case OptionType.Number: {
        if (typeof value !== 'number' || (def.type === OptionType.Integer && !Number.isInteger(value))) {
          throw new Error(`${where} takes ${def.type === OptionType.Integer ? 'an integer' : 'a number'}`);
        }
        if (
          (def.min_value !== undefined && value < def.min_value) ||
          (def.max_value !== undefined && value > def.max_value)
        ) {
          throw new Error(`${where} takes ${def.min_value ?? '-∞'}–${def.max_value ?? '∞'}`);
        }
        checkChoices();
        return value;
      }
      case OptionType.Boolean:
        if (typeof value !== 'boolean') throw new Error(`${where} takes a boolean`);
        return value;
      case OptionType.User:
      case OptionType.Mentionable: {
        const id = String(value);
        if (this.world.users.has(id)) {
          (resolved.users ??= new Set()).add(id);
          return id;
        }
        const role = def.type === OptionType.Mentionable ? guild.roles.find((r) => r.id === id) : undefined;
        if (role) {
          (resolved.roles ??= new Set()).add(id);
          return id;
        }
        throw new Error(`${where}: unknown ${def.type === OptionType.User ? 'user' : 'user or role'} ${id}`);
      }
      case OptionType.Role: {
        const id = String(value);
        if (!guild.roles.some((r) => r.id === id)) throw new Error(`${where}: unknown role ${id}`);
        (resolved.roles ??= new Set()).add(id);
        return id;
      }
      case OptionType.Channel: {
        const id = String(value);
        const channel = this.world.channels.get(id);
        if (!channel || channel.guildId !== guild.id) throw new Error(`${where}: unknown channel ${id}`);
        if (def.channel_types && !def.channel_types.includes(channel.type))
          throw new Error(`${where}: channel type ${channel.type} not allowed`);
        (resolved.channels ??= new Map()).set(id, permissions);
        return id;
      }
      case OptionType.Attachment: {
        const a = attachments.get(String(value));
        if (!a) throw new Error(`${where}: no attachment named ${JSON.stringify(value)} in attachments`);
        (resolved.attachments ??= {})[a.id] = a;
        return a.id;
      }
      default:
        throw new Error(`${where}: option type ${def.type} cannot take a value`);
    }
  }

  private renderResolved(r: Resolved, guild: GuildRec): Json {
    const out: Json = {};
    if (r.users) {
      const users: Json = {};
      const members: Json = {};
      for (const id of r.users) {
        users[id] = this.world.apiUser(id);
        if (guild.members.has(id)) {
          const { user: _user, ...member } = this.world.apiMember(guild, id, this.world.memberPermissions(guild, id));
          members[id] = member;
        }
      }
      out.users = users;
      if (Object.keys(members).length > 0) out.members = members;
    }
    if (r.roles) {
      const roles: Json = {};
      for (const id of r.roles) roles[id] = this.world.apiRole(guild.roles.find((x) => x.id === id)!);
      out.roles = roles;
    }
    if (r.channels) {
      const channels: Json = {};
      for (const [id, perms] of r.channels) {
        const c = this.world.channel(id);
        channels[id] = {
          id,
          name: c.name,
          type: c.type,
          permissions: perms.toString(),
          flags: 0,
          guild_id: c.guildId,
          parent_id: null,
          last_message_id: c.lastMessageId,
        };
      }
      out.channels = channels;
    }
    if (r.attachments) {
      const attachments: Json = {};
      for (const [id, a] of Object.entries(r.attachments)) attachments[id] = this.world.apiAttachment(a);
      out.attachments = attachments;
    }
    return out;
  }

  private create(
    kind: InteractionKind,
    type: number,
    o: {
      guildId: string;
      channelId: string;
      userId: string;
      locale?: string;
      attachmentSizeLimit?: number;
      token?: string;
    },
    guild: GuildRec,
    permissions: bigint,
    data: Json,
    extra: { commandName: string | null; metadataExtra: Json; message?: MessageRec },
  ): InteractionRec {
    const channel = this.world.channel(o.channelId);
    const id = this.world.ids.next();
    const token = o.token ?? makeToken(id);
    if (this.byToken.has(token)) throw new Error('token already used by another interaction');
    const user = this.world.user(o.userId);
    const owners = { '0': guild.id };
    const metadata: Json = {
      id,
      type,
      user: this.world.apiUser(o.userId),
      authorizing_integration_owners: owners,
      ...extra.metadataExtra,
    };
    const attachmentSizeLimit = o.attachmentSizeLimit ?? this.world.interactionUploadLimit(guild, o.userId);
    const payload: Json = {
      // "Bitwise set of permissions the app has in the source location of the interaction"
      // (developers/interactions/receiving-and-responding): the channel's overwrites applied, as for
      // `member.permissions`, "total permissions of the member in the channel, including overwrites"
      // (developers/resources/guild, guild member object).
      app_permissions: this.world.botPermissionsIn(channel).toString(),
      application_id: this.opts.applicationId,
      attachment_size_limit: attachmentSizeLimit,
      authorizing_integration_owners: owners,
      channel: { ...this.world.apiChannel(channel), permissions: permissions.toString() },
      channel_id: channel.id,
      context: 0,
      data,
      entitlement_sku_ids: [],
      entitlements: [],
      guild: { id: guild.id, locale: guild.locale, features: [] },
      guild_id: guild.id,
      guild_locale: guild.locale,
      id,
      locale: o.locale ?? user.locale,
      member: this.world.apiMember(guild, o.userId, permissions),
      ...(extra.message ? { message: this.world.apiMessage(extra.message) } : {}),
      token,
      type,
      version: 1,
    };
    const rec: InteractionRec = {
      id,
      token,
      type,
      kind,
      guildId: guild.id,
      channelId: channel.id,
      userId: o.userId,
      createdAt: this.world.now(),
      createdHr: performance.now(),
      attachmentSizeLimit,
      payload,
      ack: null,
      response: null,
      callbackErrors: [],
      originalMessageId: null,
      sourceMessageId: extra.message?.id ?? null,
      followUpIds: [],
      modal: null,
      choices: null,
      focusedType: null,
      commandName: extra.commandName,
      metadata,
      legacy: kind === 'command' ? { id, type, name: extra.commandName, user: this.world.apiUser(o.userId) } : null,
      deliveredTo: 0,
      waiters: [],
    };
    this.byId.set(id, rec);
    this.byToken.set(token, rec);
    rec.deliveredTo = this.opts.dispatch(structuredClone(payload));
    return rec;
  }

  private handle(rec: InteractionRec): InteractionHandle {
    const waitAck = (timeoutMs: number): Promise<Acknowledgement> =>
      new Promise((resolve, reject) => {
        if (rec.ack) {
          resolve(rec.ack);
          return;
        }
        // A real-time timeout, not the emulator clock: it only keeps a test from hanging.
        const timer = setTimeout(() => {
          rec.waiters = rec.waiters.filter((w) => w !== done);
          const refused = rec.callbackErrors.map((e) => `${e.status}/${e.code}`).join(', ');
          reject(
            new Error(
              `interaction ${rec.id} (${rec.kind}) was not acknowledged within ${timeoutMs} ms${refused ? `; refused callbacks: ${refused}` : ''}${rec.deliveredTo === 0 ? '; no gateway session received it' : ''}`,
            ),
          );
        }, timeoutMs);
        timer.unref?.();
        const done = (): void => {
          clearTimeout(timer);
          resolve(rec.ack!);
        };
        rec.waiters.push(done);
      });
    return {
      get id() {
        return rec.id;
      },
      get token() {
        return rec.token;
      },
      get kind() {
        return rec.kind;
      },
      get payload() {
        return structuredClone(rec.payload);
      },
      get createdAt() {
        return rec.createdAt;
      },
      get createdHr() {
        return rec.createdHr;
      },
      get deliveredTo() {
        return rec.deliveredTo;
      },
      get ack() {
        return rec.ack;
      },
      get response() {
        return rec.response;
      },
      get callbackErrors() {
        return [...rec.callbackErrors];
      },
      get originalMessageId() {
        return rec.originalMessageId;
      },
      get followUpIds() {
        return [...rec.followUpIds];
      },
      get modal() {
        return rec.modal ? structuredClone(rec.modal.data) : null;
      },
      acknowledged: (timeoutMs = 5_000) => waitAck(timeoutMs),
      choices: async (timeoutMs = 5_000) => {
        if (rec.kind !== 'autocomplete') throw new Error(`interaction ${rec.id} is not an autocomplete interaction`);
        await waitAck(timeoutMs);
        return structuredClone(rec.choices ?? []);
      },
    };
  }

  // ---- REST: the callback ------------------------------------------------------------

  /** `POST /interactions/{id}/{token}/callback`. `arrivedAt` is when the request reached Discord. */
  callback(id: string, token: string, body: ParsedBody, withResponse: boolean, arrivedAt: number): CallbackResult {
    const rec = this.byId.get(id);
    if (!rec || rec.token !== token) throw unknownInteraction();
    try {
      return this.answer(rec, body, withResponse, arrivedAt);
    } catch (err) {
      const e = err as { status?: number; code?: number };
      rec.callbackErrors.push({ at: arrivedAt, status: e.status ?? 500, code: e.code ?? 0 });
      throw err;
    }
  }

  private answer(rec: InteractionRec, body: ParsedBody, withResponse: boolean, arrivedAt: number): CallbackResult {
    const age = arrivedAt - rec.createdAt;
    if (age >= this.opts.tokenLifetimeMs) throw unknownInteraction();
    if (rec.ack) throw alreadyAcknowledged();
    if (age > this.opts.ackWindowMs) throw unknownInteraction();
    const json = (typeof body.json === 'object' && body.json !== null ? body.json : {}) as Json;
    const type = json.type;
    if (typeof type !== 'number' || ![1, 4, 5, 6, 7, 8, 9, 10, 12].includes(type)) {
      throw formError(['type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.');
    }
    const fromMessage = rec.sourceMessageId !== null;
    if (!ALLOWED_CALLBACKS[rec.kind].includes(type) || ((type === 6 || type === 7) && !fromMessage)) {
      throw formError(
        ['type'],
        'INTERACTION_RESPONSE_TYPE_INVALID',
        `Interaction callback type ${type} is not valid for this interaction`,
      );
    }
    const data = json.data;
    let message: MessageRec | undefined;
    switch (type) {
      case 4: {
        this.world.threadGate(this.world.channel(rec.channelId), 'post');
        World.checkUploadSize(body.files, rec.attachmentSizeLimit);
        const write = parseMessageWrite(data, body.files, { mode: 'create', allowEphemeral: true });
        message = this.world.createMessage(
          rec.channelId,
          this.opts.botUserId,
          write,
          this.responseMeta(rec, write.flags ?? 0),
        );
        rec.originalMessageId = message.id;
        break;
      }
      case 5: {
        this.world.threadGate(this.world.channel(rec.channelId), 'post');
        const flags = typeof (data as Json | undefined)?.flags === 'number' ? ((data as Json).flags as number) : 0;
        message = this.world.createMessage(
          rec.channelId,
          this.opts.botUserId,
          { files: [], enforceNonce: false, tts: false, flags: flags & MessageFlag.Ephemeral },
          { ...this.responseMeta(rec, flags), extraFlags: MessageFlag.Loading },
        );
        rec.originalMessageId = message.id;
        break;
      }
      case 6:
        rec.originalMessageId = rec.sourceMessageId;
        break;
      case 7: {
        const target = this.world.messages.get(rec.sourceMessageId!);
        if (!target || target.deleted) throw unknownMessage();
        this.world.threadGate(this.world.channel(rec.channelId), 'edit');
        World.checkUploadSize(body.files, rec.attachmentSizeLimit);
        const write = parseMessageWrite(data, body.files, {
          mode: 'edit',
          allowEphemeral: false,
          existingFlags: target.flags,
        });
        message = this.world.editMessage(target, write, 'callback', rec.id);
        rec.originalMessageId = target.id;
        break;
      }
      case 8:
        rec.choices = validateChoices(data, rec.focusedType ?? 3);
        break;
      case 9: {
        const { modal, inputs } = validateModal(data);
        rec.modal = { data: modal, inputs, submitted: false };
        break;
      }
      default:
        throw formError(
          ['type'],
          'INTERACTION_RESPONSE_TYPE_INVALID',
          `Interaction callback type ${type} is not supported`,
        );
    }
    rec.ack = { type, at: arrivedAt, afterMs: arrivedAt - rec.createdAt };
    rec.response = { type, data: structuredClone(data ?? null), at: arrivedAt };
    for (const w of rec.waiters.splice(0)) w();
    if (!withResponse) return { status: 204, ...(message ? { messageId: message.id } : {}) };
    const interaction: Json = { id: rec.id, type: rec.type };
    if (message) {
      interaction.response_message_id = message.id;
      interaction.response_message_loading = (message.flags & MessageFlag.Loading) !== 0;
      interaction.response_message_ephemeral = message.visibleTo !== null;
    }
    return {
      status: 200,
      body: { interaction, ...(message ? { resource: { type, message: this.world.apiMessage(message) } } : {}) },
      ...(message ? { messageId: message.id } : {}),
    };
  }

  private responseMeta(rec: InteractionRec, flags: number) {
    return {
      via: 'callback' as const,
      // Replies to commands are CHAT_INPUT_COMMAND messages; to components and modals, REPLY.
      type: rec.kind === 'command' ? 20 : 19,
      visibleTo: flags & MessageFlag.Ephemeral ? rec.userId : null,
      webhookId: this.opts.applicationId,
      interactionId: rec.id,
      interactionMetadata: rec.metadata,
      ...(rec.legacy ? { legacyInteraction: rec.legacy } : {}),
    };
  }

  // ---- REST: the interaction webhook ----------------------------------------------------

  /** Resolves `/webhooks/{app}/{token}`: Unknown Webhook for a foreign app, 50027 once the token died. */
  webhook(applicationId: string, token: string, arrivedAt: number): InteractionRec {
    if (applicationId !== this.opts.applicationId) throw unknownWebhook();
    const rec = this.byToken.get(token);
    if (!rec || arrivedAt - rec.createdAt >= this.opts.tokenLifetimeMs) throw invalidWebhookToken();
    if (rec.kind === 'autocomplete' || !rec.ack) throw unknownWebhook();
    return rec;
  }

  webhookMessage(rec: InteractionRec, messageId: string): MessageRec {
    const id = messageId === '@original' ? rec.originalMessageId : messageId;
    if (!id) throw unknownMessage();
    const own = id === rec.originalMessageId || id === rec.sourceMessageId || rec.followUpIds.includes(id);
    const m = this.world.messages.get(id);
    if (!own || !m || m.deleted) throw unknownMessage();
    return m;
  }

  editViaWebhook(rec: InteractionRec, messageId: string, body: ParsedBody): MessageRec {
    const m = this.webhookMessage(rec, messageId);
    if (m.visibleTo === null) this.world.threadGate(this.world.channel(m.channelId), 'edit');
    World.checkUploadSize(body.files, rec.attachmentSizeLimit);
    const write = parseMessageWrite(body.json, body.files, {
      mode: 'edit',
      allowEphemeral: false,
      existingFlags: m.flags,
    });
    this.opts.beforeEdit(m);
    return this.world.editMessage(m, write, 'webhook', rec.id);
  }

  deleteViaWebhook(rec: InteractionRec, messageId: string): MessageRec {
    const m = this.webhookMessage(rec, messageId);
    if (m.visibleTo === null) this.world.threadGate(this.world.channel(m.channelId), 'delete');
    this.world.deleteMessage(m, 'webhook', rec.id);
    return m;
  }

  /**
   * `POST /webhooks/{app}/{token}`. Right after a deferral it completes the
   * loading message instead of posting a new one, keeping the deferral's
   * visibility — Discord's documented backwards-compatible behaviour.
   */
  followUp(rec: InteractionRec, body: ParsedBody): MessageRec {
    World.checkUploadSize(body.files, rec.attachmentSizeLimit);
    const write = parseMessageWrite(body.json, body.files, { mode: 'create', allowEphemeral: true });
    const original = rec.originalMessageId ? this.world.messages.get(rec.originalMessageId) : undefined;
    const channel = this.world.channel(rec.channelId);
    if (original && !original.deleted && original.flags & MessageFlag.Loading) {
      if (original.visibleTo === null) this.world.threadGate(channel, 'edit');
      const { flags: _ignored, ...rest } = write;
      return this.world.editMessage(original, rest, 'webhook', rec.id);
    }
    const ephemeral = ((write.flags ?? 0) & MessageFlag.Ephemeral) !== 0;
    if (!ephemeral) this.world.threadGate(channel, 'post');
    const m = this.world.createMessage(rec.channelId, this.opts.botUserId, write, {
      via: 'webhook',
      type: original && !original.deleted ? 19 : 20,
      visibleTo: ephemeral ? rec.userId : null,
      webhookId: this.opts.applicationId,
      interactionId: rec.id,
      interactionMetadata: {
        ...rec.metadata,
        ...(rec.originalMessageId ? { original_response_message_id: rec.originalMessageId } : {}),
      },
      ...(original && !original.deleted && !ephemeral
        ? {
            messageReference: {
              type: 0,
              channel_id: original.channelId,
              message_id: original.id,
              guild_id: original.guildId,
            },
          }
        : {}),
    });
    rec.followUpIds.push(m.id);
    return m;
  }
}

interface Resolved {
  users?: Set<string>;
  roles?: Set<string>;
  channels?: Map<string, bigint>;
  attachments?: Record<string, AttachmentRec>;
}

function fullName(name: string, group?: string, sub?: string): string {
  return [name, group, sub].filter(Boolean).join(' ');
}

function findComponent(components: Json[], pred: (c: Json) => boolean): Json | undefined {
  for (const c of components) {
    if (pred(c)) return c;
    const nested = [
      ...(Array.isArray(c.components) ? (c.components as Json[]) : []),
      ...(c.accessory ? [c.accessory as Json] : []),
    ];
    const hit = findComponent(nested, pred);
    if (hit) return hit;
  }
  return undefined;
}
