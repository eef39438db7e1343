import {
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import { UserFacingError } from '../errors.js';
import { JOBS_PAGE_SIZE, renderJobDetails, renderJobList } from '../ui/jobs-view.js';
import { shorten } from '../ui/render.js';
import { zh } from './localize.js';
import type { ComponentHandler, SlashCommand } from './types.js';

export const soraJobsCommandData = {
  name: 'sora-jobs',
  description: 'Your recent videos, or one video in detail',
  description_localizations: zh('你最近的视频，或某个视频的详情'),
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
  options: [
    {
      type: ApplicationCommandOptionType.String,
      name: 'id',
      name_localizations: zh('编号'),
      description: 'A job number (#12) or task id',
      description_localizations: zh('任务编号（#12）或任务 ID'),
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

export function createSoraJobsCommand(deps: { jobs: JobsRepository; maxWaitMs: number }): {
  command: SlashCommand;
  pages: ComponentHandler;
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
        embeds: [renderJobDetails(interaction.locale, job, deps.maxWaitMs)],
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
  const pages: ComponentHandler = {
    prefix: 'jobs',
    async button(interaction, [action, owner, n]) {
      if (action !== 'page') return;
      if (owner !== interaction.user.id) throw new UserFacingError('jobs.not_owner');
      await interaction.update(page(interaction.locale, owner, Number(n)));
    },
  };
  return { command, pages };
}
