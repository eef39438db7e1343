import { randomBytes } from 'node:crypto';
import {
  DiscordAPIError,
  MessageFlags,
  RESTJSONErrorCodes,
  type Interaction,
  type RepliableInteraction,
} from 'discord.js';
import type { ComponentHandler } from './commands/components.js';
import type { SlashCommand } from './commands/types.js';
import { UserFacingError } from './errors.js';
import type { Logger } from './logger.js';
import { t } from './ui/i18n.js';

/** Discord errors that only mean "the member or Discord moved on"; not worth an error log. */
const EXPECTED_CODES = new Set<number>([
  RESTJSONErrorCodes.UnknownMessage,
  RESTJSONErrorCodes.UnknownInteraction,
  RESTJSONErrorCodes.InteractionHasAlreadyBeenAcknowledged,
]);

/**
 * The one entry point for interactions: dispatch to the command or component
 * handler, and the one place that turns errors into replies, whether or not
 * the interaction was acknowledged yet.
 */
export class InteractionRouter {
  private readonly commands: Map<string, SlashCommand>;

  constructor(
    commands: readonly SlashCommand[],
    private readonly components: ComponentHandler,
    private readonly log: Logger,
  ) {
    this.commands = new Map(commands.map((c) => [c.data.name, c]));
  }

  /** A command this process does not know (a stale registration) is answered, never dropped. */
  private command(name: string): SlashCommand {
    const command = this.commands.get(name);
    if (command) return command;
    this.log.warn({ command: name }, 'unknown command');
    throw new UserFacingError('error.unknown_action');
  }

  /** Never throws: an error inside an event listener would be an unhandled rejection. */
  async handle(interaction: Interaction): Promise<void> {
    try {
      if (interaction.isChatInputCommand()) {
        await this.command(interaction.commandName).execute(interaction);
      } else if (interaction.isAutocomplete()) {
        const command = this.commands.get(interaction.commandName);
        await (command?.autocomplete ? command.autocomplete(interaction) : interaction.respond([]));
      } else if (interaction.isButton()) {
        await this.components.button(interaction);
      } else if (interaction.isModalSubmit()) {
        await this.components.modal(interaction);
      }
    } catch (err) {
      await this.fail(interaction, err);
    }
  }

  private async fail(interaction: Interaction, err: unknown): Promise<void> {
    if (!interaction.isRepliable()) {
      this.log.error({ err, interactionId: interaction.id }, 'interaction handler failed');
      return;
    }
    let message: string;
    if (err instanceof UserFacingError) {
      message = t(interaction.locale, err.key, err.params);
    } else {
      const ref = randomBytes(4).toString('hex');
      const expected = err instanceof DiscordAPIError && EXPECTED_CODES.has(Number(err.code));
      this.log[expected ? 'info' : 'error'](
        { err, ref, interactionId: interaction.id, type: interaction.type },
        'interaction handler failed',
      );
      if (expected) return;
      message = t(interaction.locale, 'error.generic', { ref });
    }
    await replyPrivately(interaction, message).catch((replyErr: unknown) =>
      this.log.warn({ err: replyErr, interactionId: interaction.id }, 'could not report an error to the member'),
    );
  }
}

/**
 * An ephemeral answer, whatever state the interaction is in. After a public
 * deferral, the first follow-up would complete the public "thinking" message
 * (ignoring the ephemeral flag), so that message is removed first.
 */
export async function replyPrivately(interaction: RepliableInteraction, content: string): Promise<void> {
  const body = { content, flags: MessageFlags.Ephemeral as const, allowedMentions: { parse: [] } };
  if (interaction.deferred && !interaction.replied && !interaction.ephemeral)
    await interaction.deleteReply().catch(() => undefined);
  if (interaction.deferred || interaction.replied) await interaction.followUp(body);
  else await interaction.reply(body);
}
