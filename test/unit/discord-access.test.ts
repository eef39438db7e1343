import { PermissionFlagsBits } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/errors.js';
import { checkChannelAccess, missingPermissions } from '../../src/services/channel-access.js';
import { channelUploadLimit, InvalidRequestGuard } from '../../src/services/discord-rest.js';
import { createLogger } from '../../src/logger.js';

const P = PermissionFlagsBits;
const ALL = P.ViewChannel | P.SendMessages | P.EmbedLinks | P.AttachFiles | P.ReadMessageHistory;

describe('what a job needs of its channel', () => {
  it('names every missing permission; threads need Send Messages in Threads instead of Send Messages', () => {
    expect(missingPermissions({ appPermissions: ALL, thread: null })).toEqual([]);
    expect(missingPermissions({ appPermissions: ALL & ~P.AttachFiles & ~P.EmbedLinks, thread: null })).toEqual([
      'perm.embed_links',
      'perm.attach_files',
    ]);
    const thread = { archived: false, locked: false };
    expect(missingPermissions({ appPermissions: ALL, thread })).toEqual(['perm.send_messages']);
    expect(missingPermissions({ appPermissions: (ALL & ~P.SendMessages) | P.SendMessagesInThreads, thread })).toEqual(
      [],
    );
    // Discord sent no app_permissions (an old client): nothing to judge by.
    expect(missingPermissions({ appPermissions: null, thread: null })).toEqual([]);
  });

  it('refuses a locked archived thread unless the bot manages threads; an archived open thread is fine', () => {
    const facts = (archived: boolean, locked: boolean, extra = 0n) => ({
      appPermissions: ALL | P.SendMessagesInThreads | extra,
      thread: { archived, locked },
    });
    const check = (f: ReturnType<typeof facts>) => () => checkChannelAccess(f, (k) => k);
    expect(check(facts(true, false))).not.toThrow();
    expect(check(facts(true, true))).toThrow(UserFacingError);
    expect(check(facts(true, true, P.ManageThreads))).not.toThrow();
    try {
      checkChannelAccess({ appPermissions: P.ViewChannel, thread: null }, (k) => k);
      throw new Error('not refused');
    } catch (err) {
      expect(err).toBeInstanceOf(UserFacingError);
      expect((err as UserFacingError).params.permissions).toBe(
        'perm.send_messages, perm.embed_links, perm.attach_files, perm.read_message_history',
      );
    }
  });

  it('knows the channel route’s upload limit per boost tier, unknown tiers taken as tier 0', () => {
    const MiB = 1024 * 1024;
    expect([0, 1, 2, 3].map(channelUploadLimit)).toEqual([10 * MiB, 10 * MiB, 50 * MiB, 100 * MiB]);
    expect(channelUploadLimit(undefined)).toBe(10 * MiB);
  });
});

describe('InvalidRequestGuard', () => {
  it('pauses what is only nice to have past half the ban line, until discord.js’s window ends', () => {
    let now = 1_000;
    const guard = new InvalidRequestGuard(createLogger({ level: 'silent', secrets: [] }), 10_000, () => now);
    expect(guard.optionalAllowed()).toBe(true);
    guard.report(4_900, 300_000);
    expect(guard.optionalAllowed()).toBe(true);
    guard.report(5_000, 300_000);
    expect(guard.optionalAllowed()).toBe(false);
    now += 299_999;
    expect(guard.optionalAllowed()).toBe(false);
    now += 1;
    expect(guard.optionalAllowed()).toBe(true);
  });
});
