import type {
  AutocompleteInteraction,
  ButtonInteraction,
  ChatInputCommandInteraction,
  ModalSubmitInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';

/** A slash command: its definition (registered with Discord) and its handler. */
export interface SlashCommand {
  readonly data: RESTPostAPIChatInputApplicationCommandsJSONBody;
  execute(interaction: ChatInputCommandInteraction): Promise<void>;
  autocomplete?(interaction: AutocompleteInteraction): Promise<void>;
}

/** Handles buttons and modals whose `custom_id` starts with `prefix:`. */
export interface ComponentHandler {
  readonly prefix: string;
  button?(interaction: ButtonInteraction, args: string[]): Promise<void>;
  modal?(interaction: ModalSubmitInteraction, args: string[]): Promise<void>;
}
