import {
  ApplicationCommandOptionType,
  type ButtonInteraction,
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import { UserFacingError } from '../errors.js';
import { JOBS_PAGE_SIZE, renderJobDetails, renderJobList } from '../ui/jobs-view.js';
import { shorten } from '../ui/render.js';
import { described, named } from './localize.js';
import type { SlashCommand } from './types.js';

export const soraJobsCommandData = {
  name: 'sora-jobs',
  ...described('cmd.sora-jobs.description'),
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
  options: [
    {
      type: ApplicationCommandOptionType.String,
      ...named('cmd.sora-jobs.id'),
      ...described('cmd.sora-jobs.id.description'),
      max_length: 200,
      autocomplete: true,
    },
  ],
} as const satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

/** Finds a job by `#12`, `12` or its upstream task id. Members see their own jobs and those of their server. */
export function findJob(
  jobs: JobsRepository,
  id: string,
  viewer: { userId: string; guildId: string | null },
): Job | undefined {
  const trimmed = id.trim();
  const local = /^#?(\d{1,15})$/.exec(trimmed);
  const job = local ? jobs.get(Number(local[1])) : jobs.getByUpstreamId(trimmed);
  if (!job) return undefined;
  return job.userId === viewer.userId || (job.guildId !== null && job.guildId === viewer.guildId) ? job : undefined;
}

/** Turns the pages of a `/sora-jobs` list (its Previous/Next buttons). */
export interface JobsPager {
  turn(interaction: ButtonInteraction, ownerId: string, page: number): Promise<void>;
}

export function createSoraJobsCommand(deps: { jobs: JobsRepository }): {
  command: SlashCommand;
  pager: JobsPager;
} {
  const page = (locale: string, userId: string, n: number) => {
    const total = deps.jobs.countForUser(userId);
    const pages = Math.max(1, Math.ceil(total / JOBS_PAGE_SIZE));
    const p = Math.min(Math.max(0, n), pages - 1);
    return renderJobList(locale, userId, deps.jobs.recentForUser(userId, JOBS_PAGE_SIZE, p * JOBS_PAGE_SIZE), p, total);
  };
  const command: SlashCommand = {
    data: soraJobsCommandData,
    async execute(interaction) {
      const id = interaction.options.getString('id');
      if (id === null) {
        await interaction.reply({
          ...page(interaction.locale, interaction.user.id, 0),
          flags: MessageFlags.Ephemeral,
          allowedMentions: { parse: [] },
        });
        return;
      }
      const job = findJob(deps.jobs, id, { userId: interaction.user.id, guildId: interaction.guildId });
      if (!job) throw new UserFacingError('jobs.not_found', { id: shorten(id, 100) });
      await interaction.reply({
        embeds: [renderJobDetails(interaction.locale, job)],
        flags: MessageFlags.Ephemeral,
        allowedMentions: { parse: [] },
      });
    },
    async autocomplete(interaction) {
      const typed = String(interaction.options.getFocused());
      const jobs =
        typed.trim() === ''
          ? deps.jobs.recentForUser(interaction.user.id, 25)
          : deps.jobs.searchCompleted(interaction.user.id, typed, 25);
      await interaction.respond(
        jobs.map((job) => ({
          name: shorten(`#${job.id} · ${job.prompt.replace(/\s+/g, ' ')}`, 100),
          value: `#${job.id}`,
        })),
      );
    },
  };
  const pager: JobsPager = {
    async turn(interaction, ownerId, n) {
      if (ownerId !== interaction.user.id) throw new UserFacingError('jobs.not_owner');
      await interaction.update(page(interaction.locale, ownerId, n));
    },
  };
  return { command, pager };
}
