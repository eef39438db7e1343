import type { APIMessage } from 'discord.js';
import { customIds } from '../commands/custom-ids.js';

/**
 * What says "this message carries job N's video": the Details button under
 * it, whose custom_id names the job. The renderer puts it on every video
 * message, link or attachment (render.ts jobButtons), and after a post that
 * may have landed the finder looks for it (DiscordMessenger.findPosted).
 * Progress replies never carry it, so the job's own reply is never mistaken
 * for its video.
 */
export function deliveryMarker(jobId: number): string {
  return customIds.details(jobId);
}

/** Whether `message` is the video post of job `jobId`, by this bot (when its id is known). */
export function isDeliveryOf(message: APIMessage, jobId: number, botUserId: string | undefined): boolean {
  if (botUserId !== undefined && message.author.id !== botUserId) return false;
  const marker = deliveryMarker(jobId);
  return (message.components ?? []).some((row) =>
    'components' in row ? row.components.some((c) => 'custom_id' in c && c.custom_id === marker) : false,
  );
}

/** How a found video post carried the video. */
export function deliveryModeOf(message: APIMessage): 'attachment' | 'link' {
  return message.attachments.length > 0 ? 'attachment' : 'link';
}
