/**
 * `npm run demo`: both emulators and the real bot, a short scripted session,
 * and the channel printed as a member sees it, update by update. No token,
 * no network. Simulated time (a ManualClock) makes minutes pass in seconds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { APIEmbed } from 'discord.js';
import { ManualClock } from '../src/clock.js';
import type { TimelineEntry } from '../emulators/discord/types.js';
import { startWorld } from '../emulators/world.js';

const MINUTE = 60_000;
const PNG = fs.readFileSync(new URL('../emulators/fixtures/reference.png', import.meta.url));

function describe(entry: TimelineEntry, names: Map<string, string>, start: number): string {
  const t = new Date(entry.at - start).toISOString().slice(11, 19);
  const who = entry.ephemeral ? ` (only ${names.get(entry.visibleTo ?? '') ?? 'one member'} sees this)` : '';
  const lines = [`[+${t}] ${entry.kind.toUpperCase()} message ${entry.messageId.slice(-5)}${who}`];
  if (entry.loading) lines.push('   Sora is thinking…');
  const mention = (s: string) => s.replace(/<@(\d+)>/g, (_m, id: string) => `@${names.get(id) ?? id}`);
  if (entry.content) lines.push(`   ${mention(entry.content).split('\n').join('\n   ')}`);
  for (const e of entry.embeds as APIEmbed[]) {
    if (e.title) lines.push(`   ┃ ${e.title}`);
    if (e.description) lines.push(`   ┃ ${e.description.split('\n').join('\n   ┃ ')}`);
    for (const f of e.fields ?? []) lines.push(`   ┃ ${f.name}: ${f.value.split('\n').join(' ')}`);
    if (e.footer?.text) lines.push(`   ┃ ${e.footer.text}`);
  }
  for (const a of entry.attachments)
    lines.push(`   📎 ${a.filename} (${a.size} bytes, sha256 ${a.sha256.slice(0, 12)}…)`);
  const buttons = (entry.components as { components?: { label?: string }[] }[])
    .flatMap((r) => r.components ?? [])
    .map((c) => `[${c.label}]`);
  if (buttons.length > 0) lines.push(`   ${buttons.join(' ')}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const clock = new ManualClock(Date.now());
  const world = await startWorld({
    clock,
    tuzi: { jobDurationMs: 3 * MINUTE },
    env: { POLL_MIN_SECONDS: '3', POLL_MAX_SECONDS: '30' },
  });
  const start = clock.now();
  const names = new Map([
    [world.users.alice, 'alice'],
    [world.users.li, 'li'],
    [world.users.mod, 'mod'],
  ]);
  let printed = 0;
  const flush = () => {
    const timeline = world.discord.timeline(world.channelId);
    for (const entry of timeline.slice(printed))
      if (entry.kind !== 'edit' || entry.changed) console.log(describe(entry, names, start) + '\n');
    printed = timeline.length;
  };
  try {
    console.log('# #videos, as a member sees it\n');
    console.log('> alice: /sora prompt: a corgi surfing at sunset, golden light\n');
    world.discord.invokeSlashCommand({
      guildId: world.guildId,
      channelId: world.channelId,
      userId: world.users.alice,
      name: 'sora',
      options: { prompt: 'a corgi surfing at sunset, golden light' },
    });
    await world.settle();
    await world.advance(20_000);
    flush();

    console.log('> li: /sora 提示词: 这张图里的猫在月球上散步 图片: cat.png (zh-CN)\n');
    world.discord.invokeSlashCommand({
      guildId: world.guildId,
      channelId: world.channelId,
      userId: world.users.li,
      name: 'sora',
      locale: 'zh-CN',
      options: { prompt: '这张图里的猫在月球上散步', image: 'cat.png' },
      attachments: [{ filename: 'cat.png', contentType: 'image/png', data: PNG }],
    });
    await world.settle();
    world.tuzi.injectFault({
      kind: 'job-failure',
      atProgress: 93,
      code: 'content_policy_violation',
      message: 'This content may violate our content policies.',
    });
    console.log('> mod: /sora prompt: a famous movie scene, shot for shot (this one will be refused by moderation)\n');
    world.discord.invokeSlashCommand({
      guildId: world.guildId,
      channelId: world.channelId,
      userId: world.users.mod,
      name: 'sora',
      options: { prompt: 'a famous movie scene, shot for shot' },
    });
    await world.settle();

    const finished = () =>
      [1, 2, 3].every((id) => ['delivered', 'failed'].includes(world.app!.jobs.get(id)?.status ?? ''));
    for (let i = 0; i < 120 && !finished(); i++) {
      await world.advance(10_000, 1_000);
      flush();
    }
    await world.advance(10_000);
    flush();

    const delivered = world.discord
      .timeline(world.channelId)
      .flatMap((e) => e.attachments)
      .filter((a) => a.filename.endsWith('.mp4'));
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sora-demo-'));
    const files = [...new Map(delivered.map((a) => [a.id, a])).values()].map((a) => {
      const file = path.join(outDir, a.filename);
      fs.writeFileSync(file, world.discord.attachmentData(a.id) ?? Buffer.alloc(0));
      return file;
    });
    const statuses = [1, 2, 3].map((id) => `#${id} ${world.app!.jobs.get(id)?.status}`).join(', ');
    console.log(
      `# Done: ${statuses}; upstream POSTs: ${world.tuzi.requests.filter((r) => r.route === 'create').length}`,
    );
    for (const f of files) console.log(`Delivered video: ${f}`);
    if (files.length !== 2 || !finished()) throw new Error('the demo did not end as scripted');
  } finally {
    await world.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
