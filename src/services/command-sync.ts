import { createHash } from 'node:crypto';
import { Routes, type REST, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import type { StateRepository } from '../db/state-repository.js';
import type { Logger } from '../logger.js';

const STATE_KEY = 'commands_hash';

/** Registers the definitions globally, or to one server (instant updates, for development). */
export async function registerCommands(
  rest: REST,
  applicationId: string,
  definitions: readonly RESTPostAPIChatInputApplicationCommandsJSONBody[],
  guildId?: string,
): Promise<void> {
  const route = guildId
    ? Routes.applicationGuildCommands(applicationId, guildId)
    : Routes.applicationCommands(applicationId);
  await rest.put(route, { body: definitions });
}

export function commandsHash(definitions: readonly object[], applicationId: string, guildId?: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ definitions, applicationId, guildId: guildId ?? null }))
    .digest('hex');
}

/**
 * Registers commands at start only when the definitions (or where they go)
 * changed since the last successful sync, so restarts do not spend Discord's
 * registration rate limit.
 */
export async function syncCommands(
  rest: REST,
  state: StateRepository,
  log: Logger,
  applicationId: string,
  definitions: readonly RESTPostAPIChatInputApplicationCommandsJSONBody[],
  guildId?: string,
): Promise<boolean> {
  const hash = commandsHash(definitions, applicationId, guildId);
  if (state.get(STATE_KEY) === hash) {
    log.debug('commands unchanged; not registering');
    return false;
  }
  await registerCommands(rest, applicationId, definitions, guildId);
  state.set(STATE_KEY, hash);
  log.info({ scope: guildId ? `guild ${guildId}` : 'global', count: definitions.length }, 'commands registered');
  return true;
}
