/** The permission bits the emulator reasons about (Discord's values). */
export const Permission = {
  CreateInstantInvite: 1n << 0n,
  Administrator: 1n << 3n,
  ManageChannels: 1n << 4n,
  ManageGuild: 1n << 5n,
  AddReactions: 1n << 6n,
  Stream: 1n << 9n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  ManageMessages: 1n << 13n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  UseExternalEmojis: 1n << 18n,
  Connect: 1n << 20n,
  Speak: 1n << 21n,
  UseVAD: 1n << 25n,
  ChangeNickname: 1n << 26n,
  UseApplicationCommands: 1n << 31n,
  ManageThreads: 1n << 34n,
  CreatePublicThreads: 1n << 35n,
  CreatePrivateThreads: 1n << 36n,
  SendMessagesInThreads: 1n << 38n,
  UseExternalStickers: 1n << 37n,
} as const;

/** Every bit Discord defines today (up to bit 51), which is what an administrator has. */
export const ALL_PERMISSIONS = (1n << 52n) - 1n;

/** What @everyone gets in a freshly created server. */
export const DEFAULT_EVERYONE_PERMISSIONS =
  Permission.CreateInstantInvite |
  Permission.AddReactions |
  Permission.Stream |
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.UseExternalEmojis |
  Permission.Connect |
  Permission.Speak |
  Permission.UseVAD |
  Permission.ChangeNickname |
  Permission.UseApplicationCommands |
  Permission.CreatePublicThreads |
  Permission.SendMessagesInThreads |
  Permission.UseExternalStickers;

/** What a bot invited with the usual "send messages with files and embeds" scopes holds. */
export const DEFAULT_BOT_PERMISSIONS =
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.SendMessagesInThreads |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.AddReactions |
  Permission.UseExternalEmojis |
  Permission.UseApplicationCommands;

export function parsePermissions(value: string | bigint | undefined, fallback: bigint): bigint {
  if (value === undefined) return fallback;
  if (typeof value === 'bigint') return value;
  if (!/^\d+$/.test(value))
    throw new Error(`permissions must be a decimal bitfield string, got ${JSON.stringify(value)}`);
  return BigInt(value);
}

/** Administrators implicitly hold every permission. */
export function effective(bits: bigint): bigint {
  return (bits & Permission.Administrator) !== 0n ? ALL_PERMISSIONS : bits;
}

export function has(bits: bigint, wanted: bigint): boolean {
  return (effective(bits) & wanted) === wanted;
}

/** A channel permission overwrite (`type` 0: role, 1: member). */
export interface Overwrite {
  id: string;
  type: 0 | 1;
  allow: bigint;
  deny: bigint;
}

/**
 * A member's permissions in a channel, computed the documented way
 * (developers/topics/permissions, "Permission Overwrites"): base
 * permissions, then the @everyone overwrite, then the member's roles'
 * overwrites together (deny, then allow), then the member's own overwrite.
 * Administrator (in the base) short-cuts to everything.
 */
export function applyOverwrites(
  base: bigint,
  overwrites: readonly Overwrite[],
  everyoneRoleId: string,
  roleIds: readonly string[],
  userId: string,
): bigint {
  if ((base & Permission.Administrator) !== 0n) return ALL_PERMISSIONS;
  let permissions = base;
  const everyone = overwrites.find((o) => o.type === 0 && o.id === everyoneRoleId);
  if (everyone) {
    permissions &= ~everyone.deny;
    permissions |= everyone.allow;
  }
  let allow = 0n;
  let deny = 0n;
  for (const o of overwrites) {
    if (o.type === 0 && o.id !== everyoneRoleId && roleIds.includes(o.id)) {
      allow |= o.allow;
      deny |= o.deny;
    }
  }
  permissions &= ~deny;
  permissions |= allow;
  const member = overwrites.find((o) => o.type === 1 && o.id === userId);
  if (member) {
    permissions &= ~member.deny;
    permissions |= member.allow;
  }
  return permissions;
}
