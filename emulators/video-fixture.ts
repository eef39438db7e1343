import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** The ffmpeg binary npm installed (@ffmpeg-installer/ffmpeg), for making test videos. */
export function fixtureFfmpeg(): string {
  return (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

/**
 * A synthetic video of at least 30 MiB, for the emulator to serve as a result
 * over Discord's 10 MiB limit: four seconds of 640×360 test pattern under
 * heavy noise, encoded losslessly (noise does not compress), with a sine tone
 * as its audio. Made once and kept in the temp folder under a name that says
 * how it was made, so a run (and the next) reuses it; written beside and
 * renamed, so two processes never read half a file.
 */
export async function bigVideo(): Promise<string> {
  const recipe = 'testsrc2-640x360-24fps-4s-noise40-qp0-sine440-v1';
  const file = path.join(os.tmpdir(), `sora-bot-${recipe}.mp4`);
  if (fs.existsSync(file) && fs.statSync(file).size >= 30 * MiB) return file;
  const part = `${file}.${process.pid}.part`;
  await run(fixtureFfmpeg(), [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=24:duration=4,noise=alls=40:allf=t'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:duration=4'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p'],
    ...['-c:a', 'aac', '-b:a', '128k', '-shortest', '-f', 'mp4', part],
  ]);
  fs.renameSync(part, file);
  return file;
}
