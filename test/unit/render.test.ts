import { describe, expect, it } from 'vitest';
import type { Job } from '../../src/db/jobs-repository.js';
import { characterModal, renderJobDetails, renderJobList } from '../../src/ui/jobs-view.js';
import {
  failureReason,
  progressBar,
  progressKey,
  renderDelivery,
  renderFailureNotice,
  renderJob,
  shorten,
} from '../../src/ui/render.js';
import { isDeliveryOf } from '../../src/jobs/delivery-marker.js';
import { jobRow } from '../../emulators/job-rows.js';
import type { APIMessage } from 'discord.js';

function job(overrides: Partial<Job> = {}): Job {
  return jobRow({
    id: 7,
    status: 'in_progress',
    upstreamId: 'sora-2:task_01k78gpb3ffrmtyww0000000000',
    progress: 42,
    submittedAt: Date.UTC(2026, 0, 1, 12),
    deadlineAt: Date.UTC(2026, 0, 1, 13, 30),
    messageId: '1300000000000000001',
    ...overrides,
  });
}

describe('render', () => {
  it('draws a progress bar', () => {
    expect(progressBar(0)).toBe('░░░░░░░░░░░░ 0%');
    expect(progressBar(50)).toBe('██████░░░░░░ 50%');
    expect(progressBar(140)).toBe('████████████ 100%');
  });

  it('shows prompt, parameters, status, progress, time left and task id', () => {
    const body = renderJob(job({ prompt: 'a *bold* @everyone corgi', private: true }), {
      status: 'in_progress',
      progress: 42,
      etaMs: 120_000,
    });
    const embed = body.embeds[0]!;
    expect(embed.description).toBe('> a \\*bold\\* @everyone corgi');
    const text = JSON.stringify(embed.fields);
    expect(text).toContain('42%');
    expect(text).toContain('about 2 min');
    expect(text).toContain('sora-2');
    expect(text).toContain('10 s');
    expect(text).toContain('1280x720');
    expect(text).toContain('private');
    expect(text).toContain('<t:1767268800:R>');
    expect(embed.footer?.text).toBe('Task: sora-2:task_01k78gpb3ffrmtyww0000000000');
    expect(body.allowed_mentions).toEqual({ parse: [] });
  });

  it('points the finished reply at the video message', () => {
    const body = renderJob(job({ status: 'delivered', deliveredMessageId: '1300000000000000009' }), {
      status: 'delivered',
      progress: 100,
    });
    expect(JSON.stringify(body.embeds[0]!.fields)).toContain(
      'https://discord.com/channels/1200000000000000001/1200000000000000002/1300000000000000009',
    );
  });

  it('renders in Chinese for zh-CN', () => {
    const body = renderJob(job({ locale: 'zh-CN' }), { status: 'queued', progress: 0 });
    expect(body.embeds[0]!.title).toBe('Sora 视频');
    expect(JSON.stringify(body.embeds[0]!.fields)).toContain('排队中');
  });

  it('changes the progress key only when the visible display changes', () => {
    const a = progressKey('en-US', { status: 'in_progress', progress: 42, etaMs: 120_000 });
    expect(progressKey('en-US', { status: 'in_progress', progress: 42, etaMs: 110_000 })).toBe(a);
    expect(progressKey('en-US', { status: 'in_progress', progress: 43, etaMs: 120_000 })).not.toBe(a);
    expect(progressKey('en-US', { status: 'queued', progress: 42, etaMs: 120_000 })).not.toBe(a);
  });

  it('shows a place in line exactly up to 50, then to two significant figures, at least to the ten', () => {
    const place = (position: number) =>
      (renderJob(job({ status: 'waiting' }), { status: 'waiting', progress: 0, position }).embeds[0]!.fields ?? [])[0]!
        .value;
    expect(place(1)).toContain('1st in line');
    expect(place(50)).toContain('50th in line');
    expect(place(51)).toContain('about 50th in line');
    expect(place(87)).toContain('about 80th in line');
    expect(place(437)).toContain('about 430th in line');
    expect(place(1_234)).toContain('about 1,200th in line');
    expect(place(12_345)).toContain('about 12,000th in line');
    // Far back, a move by one changes nothing a member sees, so nothing is edited.
    const key = (position: number) => progressKey('en-US', { status: 'waiting', progress: 0, position });
    expect(key(1_201)).toBe(key(1_299));
    expect(key(1_299)).not.toBe(key(1_300));
    expect(key(49)).not.toBe(key(50));
  });

  it('delivery pings only the member, never roles or everyone', () => {
    const body = renderDelivery(job({ status: 'delivered', prompt: '@everyone <@&123> look' }), null);
    expect(body.allowed_mentions).toEqual({ parse: [], users: ['1200000000000000003'] });
    expect(body.content).toContain('<@1200000000000000003>');
    expect(body.components[0]!.components.map((c) => ('custom_id' in c ? c.custom_id : ''))).toEqual([
      'sora:reroll:7',
      'sora:character:7',
      'sora:details:7',
    ]);
  });

  it('explains a link instead of an attachment with both sizes', () => {
    const body = renderDelivery(job({ status: 'delivered' }), {
      url: 'https://videos.example/v.mp4',
      tooLarge: true,
      size: 30 * 1024 * 1024,
    });
    expect(body.content).toContain('30.0 MiB');
    expect(body.content).toContain('10.0 MiB');
    expect(body.content).toContain('https://videos.example/v.mp4');
  });

  it('shows the upstream reason of a failure, and a failure notice pings only the member', () => {
    const failed = job({
      status: 'failed',
      errorCode: 'content_policy_violation',
      errorMessage: 'Your prompt was flagged <@&1> @here',
    });
    expect(failureReason(failed)).toEqual({
      key: 'job.failed_reason',
      params: { message: 'Your prompt was flagged <@&1> @here (`content_policy_violation`)' },
    });
    const notice = renderFailureNotice(failed);
    expect(notice.allowed_mentions).toEqual({ parse: [], users: ['1200000000000000003'] });
    expect(JSON.stringify(notice.embeds)).toContain('content_policy_violation');
    // The job carries its own limit: the deadline it was given at submission (90 minutes after it).
    expect(failureReason(job({ status: 'timed_out' }))).toEqual({
      key: 'job.timed_out_reason',
      params: { minutes: 90 },
    });
    expect(failureReason(job({ status: 'submit_failed', errorCode: 'interrupted' })).key).toBe(
      'job.submit_interrupted',
    );
  });

  it('the video post carries the marker the finder looks for; the progress reply never does', () => {
    const asPosted = (body: ReturnType<typeof renderJob>, attachments: unknown[] = []) =>
      ({ ...body, id: '1', author: { id: 'bot' }, attachments }) as unknown as APIMessage;
    const done = job({ status: 'delivered', progress: 100 });
    expect(isDeliveryOf(asPosted(renderDelivery(done, null), [{ id: '1' }]), done.id, 'bot')).toBe(true);
    const link = renderDelivery(done, { url: 'https://videos.example/v.mp4', tooLarge: true });
    expect(isDeliveryOf(asPosted(link), done.id, 'bot')).toBe(true);
    expect(isDeliveryOf(asPosted(link), done.id + 1, 'bot')).toBe(false);
    expect(isDeliveryOf(asPosted(link), done.id, 'someone-else')).toBe(false);
    expect(isDeliveryOf(asPosted(renderJob(done)), done.id, 'bot')).toBe(false);
    expect(isDeliveryOf(asPosted(renderJob(job())), 7, 'bot')).toBe(false);
  });

  it('shortens by characters, not UTF-16 units', () => {
    expect(shorten('😀😀😀😀', 3)).toBe('😀😀…');
  });
});

describe('jobs view', () => {
  it('lists jobs with paging buttons that carry the owner', () => {
    const view = renderJobList(
      'en-US',
      'u1',
      [job(), job({ id: 8, status: 'delivered', deliveredMessageId: '1300000000000000009' })],
      1,
      25,
    );
    expect(view.embeds[0]!.footer?.text).toBe('Page 2 of 3 · 25 video(s)');
    expect(view.embeds[0]!.description).toContain('`#8` Done');
    expect(view.embeds[0]!.description).toContain(
      'https://discord.com/channels/1200000000000000001/1200000000000000002/1300000000000000009',
    );
    const buttons = view.components[0]!.components;
    expect(buttons.map((b) => ('custom_id' in b ? b.custom_id : ''))).toEqual(['jobs:page:u1:0', 'jobs:page:u1:2']);
  });

  it('says how to start when there are no jobs', () => {
    expect(renderJobList('zh-CN', 'u1', [], 0, 0).embeds[0]!.description).toContain('/sora');
  });

  it('details a job and builds the character modal within Discord limits', () => {
    const details = renderJobDetails('en-US', job({ status: 'failed', errorMessage: 'blocked' }));
    expect(JSON.stringify(details.fields)).toContain('blocked');
    const modal = characterModal('zh-CN', job());
    expect(modal.custom_id).toBe('sora:charmodal:7');
    expect(modal.title.length).toBeLessThanOrEqual(45);
  });
});
