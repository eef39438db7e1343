import { MessageFlags } from 'discord.js';
import type { Clock } from '../clock.js';
import type { JobsRepository } from '../db/jobs-repository.js';
import { UserFacingError } from '../errors.js';
import { optionsFromJob, type JobService } from '../services/jobs.js';
import { characterModal, renderJobDetails } from '../ui/jobs-view.js';
import { commandContext, interactionResponder } from './sora.js';
import type { ComponentHandler } from './types.js';

const FINISHED = ['completed', 'delivering', 'delivered', 'delivery_failed'];

/**
 * The buttons under a finished video. Their state is the job id in the
 * `custom_id` plus the database, so they work after restarts and on old
 * messages. A re-roll or a character follow-up is a new job of whoever
 * clicks, subject to their own limits and the server's settings.
 */
export function createJobButtons(deps: {
  jobs: JobService;
  jobsRepo: JobsRepository;
  clock: Clock;
  maxWaitMs: number;
  imageRetentionDays: number;
}): ComponentHandler {
  const source = (id: string | undefined) => {
    const job = id && /^\d+$/.test(id) ? deps.jobsRepo.get(Number(id)) : undefined;
    if (!job) throw new UserFacingError('jobs.source_gone');
    return job;
  };
  return {
    prefix: 'sora',
    async button(interaction, [action, id]) {
      const job = source(id);
      switch (action) {
        case 'reroll': {
          // Sending it without its image would be a different video; say so instead.
          if (job.imageName && !job.imagePath)
            throw new UserFacingError('jobs.image_gone', { days: deps.imageRetentionDays });
          const { options, image } = optionsFromJob(job);
          await deps.jobs.start(
            commandContext(interaction, deps.clock),
            options,
            interactionResponder(interaction),
            image,
          );
          return;
        }
        case 'character':
          if (!FINISHED.includes(job.status) || !job.upstreamId) throw new UserFacingError('jobs.not_finished');
          await interaction.showModal(characterModal(interaction.locale, job));
          return;
        case 'details':
          await interaction.reply({
            embeds: [renderJobDetails(interaction.locale, job, deps.maxWaitMs)],
            flags: MessageFlags.Ephemeral,
            allowedMentions: { parse: [] },
          });
          return;
      }
    },
    async modal(interaction, [action, id]) {
      if (action !== 'charmodal') return;
      const job = source(id);
      if (!job.upstreamId) throw new UserFacingError('jobs.not_finished');
      const timestamps = interaction.fields.getTextInputValue('timestamps').trim();
      const { options } = optionsFromJob(job);
      await deps.jobs.start(
        commandContext(interaction, deps.clock),
        {
          prompt: interaction.fields.getTextInputValue('prompt'),
          model: options.model,
          duration: options.duration,
          size: options.size,
          watermark: options.watermark,
          private: options.private,
          characterFromTask: job.upstreamId,
          ...(timestamps ? { characterTimestamps: timestamps } : {}),
        },
        interactionResponder(interaction),
      );
    },
  };
}
