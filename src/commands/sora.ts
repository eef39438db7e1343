import {
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  InteractionContextType,
  InteractionResponseType,
  Routes,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type ModalSubmitInteraction,
  type RESTPatchAPIWebhookWithTokenMessageJSONBody,
  type RESTPatchAPIWebhookWithTokenMessageResult,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  type RESTPostAPIInteractionCallbackJSONBody,
  type RESTPostAPIInteractionCallbackWithResponseResult,
} from 'discord.js';
import type { Clock, Timers } from '../clock.js';
import { AcknowledgementsFirst } from '../services/acknowledgements-first.js';
import { MAX_CHOICES, type ModelCatalogue } from '../services/capabilities.js';
import type { JobsRepository } from '../db/jobs-repository.js';
import type { CommandContext, Responder } from '../jobs/context.js';
import type { ChannelFacts } from '../services/channel-access.js';
import type { JobService } from '../jobs/job-service.js';
import type { MessageKey } from '../ui/i18n.js';
import { shorten } from '../ui/render.js';
import { PROMPT_MAX_LENGTH, type SoraOptions } from '../services/sora-request.js';
import { described, named } from './localize.js';
import type { SlashCommand } from './types.js';

/** Discord's limit on a command or option description. */
const DESCRIPTION_MAX = 100;

/**
 * An option's description from the catalogue: when the values only some
 * models take are all taken by one model, it says so ("25 only with
 * sora-2-pro"); otherwise, or when that would not fit, the general text.
 */
function restrictedDescription(
  catalogue: ModelCatalogue,
  values: readonly (string | number)[],
  takes: (model: ModelCatalogue['models'][number], value: string | number) => boolean,
  keys: { general: MessageKey; only: MessageKey },
) {
  const restricted = values.filter((v) => !catalogue.models.every((m) => takes(m, v)));
  const owners = new Set(restricted.flatMap((v) => catalogue.models.filter((m) => takes(m, v)).map((m) => m.id)));
  if (restricted.length > 0 && owners.size === 1) {
    const only = described(keys.only, { values: restricted.join(', '), model: [...owners][0]! });
    const texts = [only.description, ...Object.values(only.description_localizations)];
    if (texts.every((text) => [...text].length <= DESCRIPTION_MAX)) return only;
  }
  return described(keys.general);
}

/**
 * A choice list when it fits Discord's 25 choices; beyond that the option
 * switches to autocomplete (answered by the command's autocomplete handler).
 */
function choicesOrAutocomplete<T extends string | number>(values: readonly T[], choice: (v: T) => { name: string }) {
  if (values.length > MAX_CHOICES) return { autocomplete: true as const };
  return { choices: values.map((v) => ({ ...choice(v), value: v })) };
}

/**
 * The `/sora` definition, built from the model catalogue: the model, duration
 * and size choices and their help texts change with it, and so does the
 * definition's hash, which makes the start-up sync register it again
 * (services/command-sync.ts). Option names are fixed: tools outside the code
 * rely on them. Their labels and descriptions are in the message catalogue.
 */
export function soraCommandData(catalogue: ModelCatalogue) {
  const durations = catalogue.allDurations();
  const sizes = catalogue.allSizes();
  return {
    name: 'sora',
    ...described('cmd.sora.description'),
    contexts: [InteractionContextType.Guild],
    integration_types: [ApplicationIntegrationType.GuildInstall],
    options: [
      {
        type: ApplicationCommandOptionType.String,
        ...named('cmd.sora.prompt'),
        ...described('cmd.sora.prompt.description'),
        required: true,
        max_length: PROMPT_MAX_LENGTH,
      },
      {
        type: ApplicationCommandOptionType.String,
        ...named('cmd.sora.model'),
        ...described('cmd.sora.model.description', { model: catalogue.defaultModel.id }),
        ...choicesOrAutocomplete(catalogue.ids(), (id) => ({ name: catalogue.find(id)!.name })),
      },
      {
        type: ApplicationCommandOptionType.Integer,
        ...named('cmd.sora.duration'),
        ...restrictedDescription(catalogue, durations, (m, v) => m.durations.includes(v as number), {
          general: 'cmd.sora.duration.description',
          only: 'cmd.sora.duration.description_only',
        }),
        ...choicesOrAutocomplete(durations, (d) => named('job.value.seconds', { seconds: d })),
      },
      {
        type: ApplicationCommandOptionType.String,
        ...named('cmd.sora.size'),
        ...restrictedDescription(catalogue, sizes, (m, v) => m.sizes.includes(v as string), {
          general: 'cmd.sora.size.description',
          only: 'cmd.sora.size.description_only',
        }),
        ...choicesOrAutocomplete(sizes, (size) => ({ name: size })),
      },
      {
        type: ApplicationCommandOptionType.Attachment,
        ...named('cmd.sora.image'),
        ...described('cmd.sora.image.description'),
      },
      {
        type: ApplicationCommandOptionType.String,
        ...named('cmd.sora.image_url'),
        ...described('cmd.sora.image_url.description'),
        max_length: 2000,
      },
      {
        type: ApplicationCommandOptionType.Boolean,
        ...named('cmd.sora.watermark'),
        ...described('cmd.sora.watermark.description'),
      },
      {
        type: ApplicationCommandOptionType.Boolean,
        ...named('cmd.sora.private'),
        ...described('cmd.sora.private.description'),
      },
      {
        type: ApplicationCommandOptionType.String,
        ...named('cmd.sora.character_url'),
        ...described('cmd.sora.character_url.description'),
        max_length: 2000,
      },
      {
        type: ApplicationCommandOptionType.String,
        ...named('cmd.sora.character_timestamps'),
        ...described('cmd.sora.character_timestamps.description'),
        max_length: 32,
      },
      {
        type: ApplicationCommandOptionType.String,
        ...named('cmd.sora.character_from_task'),
        ...described('cmd.sora.character_from_task.description'),
        max_length: 200,
        autocomplete: true,
      },
      {
        type: ApplicationCommandOptionType.Boolean,
        ...named('cmd.sora.character_create'),
        ...described('cmd.sora.character_create.description'),
      },
    ],
  } satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;
}

/** Reads the options exactly as the member gave them. */
export function readSoraOptions(interaction: ChatInputCommandInteraction): SoraOptions {
  const o = interaction.options;
  const defined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  const attachment = o.getAttachment('image');
  return {
    prompt: o.getString('prompt', true),
    model: defined(o.getString('model')),
    duration: defined(o.getInteger('duration')),
    size: defined(o.getString('size')),
    image: attachment
      ? { name: attachment.name, contentType: attachment.contentType, size: attachment.size, url: attachment.url }
      : undefined,
    imageUrl: defined(o.getString('image_url')),
    watermark: defined(o.getBoolean('watermark')),
    private: defined(o.getBoolean('private')),
    characterUrl: defined(o.getString('character_url')),
    characterTimestamps: defined(o.getString('character_timestamps')),
    characterFromTask: defined(o.getString('character_from_task')),
    characterCreate: defined(o.getBoolean('character_create')),
  };
}

/**
 * Adapts a discord.js interaction to the job service's Responder. The first
 * reply is the acknowledgement itself when the job service has it ready and
 * no other acknowledgement of the process is pending (Discord's answer,
 * `with_response`, names the message); in a burst, a deferral — the
 * cheapest answer, so every command is acknowledged soonest — and the first
 * reply follows as an edit. With `first`, `acknowledge()` returns once
 * Discord answered and no other acknowledgement is pending
 * (AcknowledgementsFirst): what the job service does next is follow-up work.
 *
 * The reply and the edit are the requests discord.js's `reply()` and
 * `editReply()` send, made on the client's REST without their
 * MessagePayload (which copies every embed key by key to snake case: the
 * body is the API's already) or the Message they build from Discord's
 * answer (only its id is kept). That was a fifth of what a /sora allocated
 * (about 125 → 97 KB in bench part 1c's steady stream), and a /sora's
 * allocations decide how often a young-generation collection, 5–10 ms
 * here, holds up the acknowledgements behind it.
 */
export function interactionResponder(
  interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
  first?: AcknowledgementsFirst,
): Responder {
  const rest = interaction.client.rest;
  return {
    async acknowledge(firstReply) {
      const replied = firstReply !== undefined && (first?.idle ?? true);
      let messageId: string | null = null;
      const send = async () => {
        if (!replied) return void (await interaction.deferReply());
        const body = firstReply();
        const response = (await rest.post(Routes.interactionCallback(interaction.id, interaction.token), {
          body: {
            type: InteractionResponseType.ChannelMessageWithSource,
            data: { ...body, content: body.content || undefined },
          } satisfies RESTPostAPIInteractionCallbackJSONBody,
          auth: false,
          query: new URLSearchParams({ with_response: 'true' }),
        })) as RESTPostAPIInteractionCallbackWithResponseResult;
        // The state discord.js's own reply() leaves: followUp, editReply and the router's private answers go by it.
        interaction.replied = true;
        interaction.ephemeral = false;
        messageId = response.resource?.message?.id ?? null;
      };
      if (!first) await send();
      else {
        await first.acknowledge(send);
        await first.clear();
      }
      return { replied, messageId };
    },
    async edit(body) {
      const message = (await rest.patch(Routes.webhookMessage(interaction.applicationId, interaction.token), {
        body: { ...body, content: body.content || null } satisfies RESTPatchAPIWebhookWithTokenMessageJSONBody,
        auth: false,
      })) as RESTPatchAPIWebhookWithTokenMessageResult;
      return { messageId: message.id };
    },
  };
}

/**
 * The member's role ids as the interaction reports them, plus the server's
 * own id, which is the @everyone role's. A cached member (discord.js) lists
 * only roles the server still has; an uncached one is the raw payload.
 */
export function memberRoleIds(
  interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
): string[] {
  const member = interaction.member;
  if (!member || !interaction.guildId) return [];
  const ids = Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
  return [...new Set([...ids, interaction.guildId])];
}

/** What a job keeps of the interaction that started it (a command, a button or a modal). */
export function commandContext(
  interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
  clock: Clock,
): CommandContext {
  return {
    interactionId: interaction.id,
    applicationId: interaction.applicationId,
    token: interaction.token,
    guildId: interaction.guildId,
    channelId: interaction.channelId!,
    userId: interaction.user.id,
    memberRoleIds: memberRoleIds(interaction),
    locale: interaction.locale,
    attachmentSizeLimit: interaction.attachmentSizeLimit,
    channelFacts: channelFacts(interaction),
    // The token's 15 minutes run from Discord's timestamp, never later than now.
    receivedAt: Math.min(interaction.createdTimestamp, clock.now()),
  };
}

/** The bot's permissions in the interaction's channel, and whether that channel is an archived or locked thread. */
function channelFacts(
  interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
): ChannelFacts {
  const channel = interaction.channel;
  return {
    appPermissions: interaction.appPermissions?.bitfield ?? null,
    thread:
      channel?.isThread() === true ? { archived: channel.archived ?? false, locked: channel.locked ?? false } : null,
  };
}

/**
 * Autocomplete for the options that outgrew Discord's 25 choices: the
 * catalogue's values matching what the member typed, narrowed to the model
 * picked so far.
 */
export function catalogueSuggestions(
  catalogue: ModelCatalogue,
  option: 'model' | 'duration' | 'size',
  typed: string,
  modelId: string | null,
): { name: string; value: string | number }[] {
  const q = typed.trim().toLowerCase();
  const model = modelId ? catalogue.find(modelId) : undefined;
  if (option === 'model')
    return catalogue.models
      .filter((m) => m.id.toLowerCase().includes(q) || m.name.toLowerCase().includes(q))
      .slice(0, MAX_CHOICES)
      .map((m) => ({ name: shorten(m.name === m.id ? m.id : `${m.name} (${m.id})`, 100), value: m.id }));
  if (option === 'duration')
    return (model?.durations ?? catalogue.allDurations())
      .filter((d) => String(d).startsWith(q))
      .slice(0, MAX_CHOICES)
      .map((d) => ({ name: `${d} s`, value: d }));
  return (model?.sizes ?? catalogue.allSizes())
    .filter((size) => size.toLowerCase().includes(q))
    .slice(0, MAX_CHOICES)
    .map((size) => ({ name: size, value: size }));
}

export function createSoraCommand(deps: {
  jobs: JobService;
  jobsRepo: JobsRepository;
  clock: Clock;
  catalogue: ModelCatalogue;
  /** For the longest a first reply waits on other commands' acknowledgements. */
  timers?: Timers;
}): SlashCommand {
  const first = new AcknowledgementsFirst(deps.timers);
  return {
    data: soraCommandData(deps.catalogue),
    async execute(interaction) {
      await deps.jobs.start(
        commandContext(interaction, deps.clock),
        readSoraOptions(interaction),
        interactionResponder(interaction, first),
      );
    },
    async autocomplete(interaction) {
      const focused = interaction.options.getFocused(true);
      if (focused.name === 'model' || focused.name === 'duration' || focused.name === 'size') {
        const model = focused.name === 'model' ? null : interaction.options.getString('model');
        return interaction.respond(catalogueSuggestions(deps.catalogue, focused.name, String(focused.value), model));
      }
      if (focused.name !== 'character_from_task') return interaction.respond([]);
      const jobs = deps.jobsRepo.searchCompleted(interaction.user.id, String(focused.value), 25);
      await interaction.respond(
        jobs
          .filter((job) => job.upstreamId!.length <= 100)
          .map((job) => ({
            name: shorten(`${job.prompt.replace(/\s+/g, ' ')} · ${job.upstreamId}`, 100),
            value: job.upstreamId!,
          })),
      );
    },
  };
}
