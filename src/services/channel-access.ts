import { PermissionFlagsBits } from 'discord.js';
import { UserFacingError } from '../errors.js';
import type { MessageKey } from '../ui/i18n.js';

/** What the interaction says about the channel a job would be posted in. */
export interface ChannelFacts {
  /** The bot's permissions there (the interaction's `app_permissions`); null when Discord sent none. */
  appPermissions: bigint | null;
  /** Set when the channel is a thread. */
  thread: { archived: boolean; locked: boolean } | null;
}

/**
 * What a job needs of its channel, each with why — checked before anything
 * is paid for, since the bot learns the rest only when the video is ready.
 * Permission names per developers/topics/permissions.
 */
const NEEDED: { bit: bigint; key: MessageKey; thread?: bigint }[] = [
  { bit: PermissionFlagsBits.ViewChannel, key: 'perm.view_channel' },
  // In a thread, posting takes Send Messages in Threads instead.
  {
    bit: PermissionFlagsBits.SendMessages,
    key: 'perm.send_messages',
    thread: PermissionFlagsBits.SendMessagesInThreads,
  },
  { bit: PermissionFlagsBits.EmbedLinks, key: 'perm.embed_links' },
  { bit: PermissionFlagsBits.AttachFiles, key: 'perm.attach_files' },
  // Without it the channel's history reads empty, and the check for a post that may have landed finds nothing.
  { bit: PermissionFlagsBits.ReadMessageHistory, key: 'perm.read_message_history' },
];

/** The permissions the bot lacks for a job here (catalogue keys), empty when it has all. */
export function missingPermissions(facts: ChannelFacts): MessageKey[] {
  if (facts.appPermissions === null) return [];
  const has = (bit: bigint) => (facts.appPermissions! & bit) === bit;
  return NEEDED.filter((n) => !has(facts.thread && n.thread ? n.thread : n.bit)).map((n) => n.key);
}

/**
 * Refuses a job the channel could not receive, naming what is missing:
 * a permission the bot lacks, or a thread that is locked and archived (a bot
 * without Manage Threads can neither post nor edit there; an archived thread
 * that is not locked is fine: a new message unarchives it).
 */
export function checkChannelAccess(facts: ChannelFacts, localize: (key: MessageKey) => string): void {
  const missing = missingPermissions(facts);
  if (missing.length > 0)
    throw new UserFacingError('sora.missing_permissions', { permissions: missing.map(localize).join(', ') });
  const canManageThreads =
    facts.appPermissions !== null &&
    (facts.appPermissions & PermissionFlagsBits.ManageThreads) === PermissionFlagsBits.ManageThreads;
  if (facts.thread?.locked && facts.thread.archived && !canManageThreads)
    throw new UserFacingError('sora.thread_locked');
}
