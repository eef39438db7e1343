import {
  ButtonStyle,
  ComponentType,
  TextInputStyle,
  type APIActionRowComponent,
  type APIButtonComponent,
  type APIEmbed,
  type APIEmbedField,
  type APIModalInteractionResponseCallbackData,
} from 'discord.js';
import { customIds } from '../commands/custom-ids.js';
import type { Job } from '../db/jobs-repository.js';
import { isIn } from '../jobs/lifecycle.js';
import { t } from './i18n.js';
import { reasonField, shorten, STATUS_LABELS } from './render.js';

export const JOBS_PAGE_SIZE = 10;

const unix = (ms: number) => Math.floor(ms / 1000);
const statusLabel = (locale: string, job: Job) => t(locale, STATUS_LABELS[job.status]);

function messageLink(job: Job): string | undefined {
  const id = job.deliveredMessageId ?? job.messageId;
  if (!id || !job.guildId) return undefined;
  return `https://discord.com/channels/${job.guildId}/${job.channelId}/${id}`;
}

/** `/sora-jobs`: one page of a member's jobs, newest first, with paging buttons. */
export function renderJobList(
  locale: string,
  userId: string,
  jobs: Job[],
  page: number,
  total: number,
): { embeds: APIEmbed[]; components: APIActionRowComponent<APIButtonComponent>[] } {
  if (total === 0)
    return {
      embeds: [{ title: t(locale, 'jobs.title'), description: t(locale, 'jobs.empty'), color: 0x5865f2 }],
      components: [],
    };
  const pages = Math.max(1, Math.ceil(total / JOBS_PAGE_SIZE));
  const lines = jobs.map((job) => {
    const link = messageLink(job);
    const line = t(locale, 'jobs.line', {
      id: job.id,
      status: statusLabel(locale, job),
      prompt: shorten(job.prompt.replace(/\s+/g, ' '), 60),
    });
    const task = job.upstreamId ? ` · \`${job.upstreamId}\`` : '';
    return `${line}${task}${link ? ` · [${t(locale, 'jobs.open')}](${link})` : ''} · <t:${unix(job.createdAt)}:R>`;
  });
  return {
    embeds: [
      {
        title: t(locale, 'jobs.title'),
        description: shorten(lines.join('\n'), 4096),
        color: 0x5865f2,
        footer: { text: t(locale, 'jobs.page', { page: page + 1, pages, total }) },
      },
    ],
    components:
      pages > 1
        ? [
            {
              type: ComponentType.ActionRow,
              components: [
                {
                  type: ComponentType.Button,
                  style: ButtonStyle.Secondary,
                  label: t(locale, 'button.previous'),
                  custom_id: customIds.jobsPage(userId, page - 1),
                  disabled: page <= 0,
                },
                {
                  type: ComponentType.Button,
                  style: ButtonStyle.Secondary,
                  label: t(locale, 'button.next'),
                  custom_id: customIds.jobsPage(userId, page + 1),
                  disabled: page >= pages - 1,
                },
              ],
            },
          ]
        : [],
  };
}

/** One job in full: `/sora-jobs id:` and the Details button. */
export function renderJobDetails(locale: string, job: Job): APIEmbed {
  const fields: APIEmbedField[] = [
    { name: t(locale, 'jobs.field.id'), value: `#${job.id}`, inline: true },
    { name: t(locale, 'job.field.status'), value: statusLabel(locale, job), inline: true },
    { name: t(locale, 'jobs.field.progress'), value: `${job.progress}%`, inline: true },
    { name: t(locale, 'job.field.model'), value: job.model, inline: true },
    {
      name: t(locale, 'job.field.duration'),
      value: t(locale, 'job.value.seconds', { seconds: job.seconds }),
      inline: true,
    },
    { name: t(locale, 'job.field.size'), value: job.size, inline: true },
    { name: t(locale, 'job.option.private'), value: t(locale, job.private ? 'config.yes' : 'config.no'), inline: true },
    {
      name: t(locale, 'job.option.watermark'),
      value: t(locale, job.watermark ? 'config.yes' : 'config.no'),
      inline: true,
    },
    { name: t(locale, 'jobs.field.created'), value: `<t:${unix(job.createdAt)}:f>`, inline: true },
  ];
  if (job.finishedAt)
    fields.push({ name: t(locale, 'jobs.field.finished'), value: `<t:${unix(job.finishedAt)}:f>`, inline: true });
  if (job.upstreamId) fields.push({ name: t(locale, 'job.field.task'), value: `\`${job.upstreamId}\``, inline: false });
  if (job.characterUrl || job.characterFromTask) {
    const source = job.characterFromTask ? `\`${job.characterFromTask}\`` : (job.characterUrl ?? '');
    fields.push({
      name: t(locale, 'job.option.character'),
      value: shorten(`${source}${job.characterTimestamps ? ` (${job.characterTimestamps} s)` : ''}`, 1024),
      inline: false,
    });
  }
  if (isIn(job.status, 'failure')) fields.push(reasonField(locale, job));
  const link = messageLink(job);
  if (link) fields.push({ name: t(locale, 'jobs.field.message'), value: link, inline: false });
  return { title: t(locale, 'job.title'), description: shorten(job.prompt, 4000), color: 0x5865f2, fields };
}

/** The "Use as character" form. */
export function characterModal(locale: string, job: Job): APIModalInteractionResponseCallbackData {
  return {
    custom_id: customIds.characterModal(job.id),
    title: shorten(t(locale, 'modal.character.title'), 45),
    components: [
      {
        type: ComponentType.ActionRow,
        components: [
          {
            type: ComponentType.TextInput,
            custom_id: 'prompt',
            label: shorten(t(locale, 'modal.character.prompt'), 45),
            style: TextInputStyle.Paragraph,
            required: true,
            max_length: 2000,
          },
        ],
      },
      {
        type: ComponentType.ActionRow,
        components: [
          {
            type: ComponentType.TextInput,
            custom_id: 'timestamps',
            label: shorten(t(locale, 'modal.character.timestamps'), 45),
            style: TextInputStyle.Short,
            required: false,
            max_length: 32,
            placeholder: '1,3',
          },
        ],
      },
    ],
  };
}
