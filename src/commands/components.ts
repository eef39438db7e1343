import { MessageFlags, PermissionFlagsBits, type ButtonInteraction, type ModalSubmitInteraction } from 'discord.js';
import type { Clock } from '../clock.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import { UserFacingError } from '../errors.js';
import { optionsFromJob, type ReusedImage } from '../jobs/job-request.js';
import type { CancelResult, JobService } from '../jobs/job-service.js';
import { isIn } from '../jobs/lifecycle.js';
import type { Logger } from '../logger.js';
import type { SoraOptions } from '../services/sora-request.js';
import { t, type MessageKey } from '../ui/i18n.js';
import { characterModal, renderJobDetails } from '../ui/jobs-view.js';
import { parseCustomId, type ParsedCustomId } from './custom-ids.js';
import { commandContext, interactionResponder } from './sora.js';
import type { JobsPager } from './sora-jobs.js';

const CANCEL_ANSWERS: Record<CancelResult['upstream'], MessageKey> = {
  not_sent: 'jobs.cancel_done_not_sent',
  stopped: 'jobs.cancel_done_stopped',
  not_stopped: 'jobs.cancel_done_not_stopped',
};

/** Buttons and modals, dispatched by their parsed custom_id. */
export interface ComponentHandler {
  button(interaction: ButtonInteraction): Promise<void>;
  modal(interaction: ModalSubmitInteraction): Promise<void>;
}

/**
 * Every button and modal the bot builds (ids: custom-ids.ts), handled here.
 * Their state is the id plus the database, so they work after restarts and
 * on old messages. A re-roll or a character follow-up is a new job of
 * whoever clicks, within their own limits and the server's settings. An id
 * this bot does not know (an old version's, or a forged one) is answered
 * privately and logged, never dropped.
 */
export function createComponentHandler(deps: {
  jobs: JobService;
  jobsRepo: JobsRepository;
  pager: JobsPager;
  clock: Clock;
  log: Logger;
  imageRetentionDays: number;
}): ComponentHandler {
  const parse = (interaction: ButtonInteraction | ModalSubmitInteraction): ParsedCustomId => {
    const parsed = parseCustomId(interaction.customId);
    if (parsed) return parsed;
    deps.log.warn({ customId: interaction.customId, interactionId: interaction.id }, 'unknown component id');
    throw new UserFacingError('error.unknown_action');
  };
  const source = (jobId: number): Job => {
    const job = deps.jobsRepo.get(jobId);
    if (!job) throw new UserFacingError('jobs.source_gone');
    return job;
  };
  const start = (interaction: ButtonInteraction | ModalSubmitInteraction, options: SoraOptions, image?: ReusedImage) =>
    deps.jobs.start(commandContext(interaction, deps.clock), options, interactionResponder(interaction), image);

  return {
    async button(interaction) {
      const id = parse(interaction);
      switch (id.kind) {
        case 'jobsPage':
          return deps.pager.turn(interaction, id.ownerId, id.page);
        case 'reroll': {
          const job = source(id.jobId);
          // Sending it without its image would be a different video; say so instead.
          if (job.imageName && !job.imagePath)
            throw new UserFacingError('jobs.image_gone', { days: deps.imageRetentionDays });
          const { options, image } = optionsFromJob(job);
          await start(interaction, options, image);
          return;
        }
        case 'character': {
          const job = source(id.jobId);
          if (!isIn(job.status, 'hasVideo') || !job.upstreamId) throw new UserFacingError('jobs.not_finished');
          await interaction.showModal(characterModal(interaction.locale, job));
          return;
        }
        case 'cancel': {
          await interaction.deferReply({ flags: MessageFlags.Ephemeral });
          const result = await deps.jobs.cancel(source(id.jobId), {
            userId: interaction.user.id,
            moderator: interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false,
          });
          await interaction.editReply({ content: t(interaction.locale, CANCEL_ANSWERS[result.upstream]) });
          return;
        }
        case 'details':
          await interaction.reply({
            embeds: [renderJobDetails(interaction.locale, source(id.jobId))],
            flags: MessageFlags.Ephemeral,
            allowedMentions: { parse: [] },
          });
          return;
        case 'charmodal':
          throw new UserFacingError('error.unknown_action');
      }
    },
    async modal(interaction) {
      const id = parse(interaction);
      if (id.kind !== 'charmodal') throw new UserFacingError('error.unknown_action');
      const job = source(id.jobId);
      if (!job.upstreamId) throw new UserFacingError('jobs.not_finished');
      const timestamps = interaction.fields.getTextInputValue('timestamps').trim();
      const { options } = optionsFromJob(job);
      await start(interaction, {
        prompt: interaction.fields.getTextInputValue('prompt'),
        model: options.model,
        duration: options.duration,
        size: options.size,
        watermark: options.watermark,
        private: options.private,
        characterFromTask: job.upstreamId,
        ...(timestamps ? { characterTimestamps: timestamps } : {}),
      });
    },
  };
}
