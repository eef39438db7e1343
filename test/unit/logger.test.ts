import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.secret-discord-token-value';
const KEY = 'sk-tuzi-"quoted"\\secret-key';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ level: 'trace', secrets: [TOKEN, KEY], destination });
  return { log, text: () => lines.join('') };
}

describe('createLogger redaction', () => {
  it('masks secrets by value wherever they appear', () => {
    const { log, text } = capture();
    const err = new Error(`request failed with Authorization: Bearer ${KEY} and Bot ${TOKEN}`);
    log.error(
      {
        err,
        request: { url: `https://x/?t=${TOKEN}`, headers: { Authorization: `Bot ${TOKEN}` }, nested: [{ deep: KEY }] },
      },
      `oops ${TOKEN}`,
    );
    log.info({ config: { discordToken: TOKEN, tuziApiKey: KEY } }, 'config');
    const out = text();
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain(JSON.stringify(KEY).slice(1, -1));
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('request failed');
  });

  it('masks authorization headers and tokens by path, and interaction tokens in URLs', () => {
    const { log, text } = capture();
    log.warn(
      {
        headers: { authorization: 'Bearer other-secret' },
        token: 'interaction-token',
        url: '/api/v10/webhooks/123456789012345678/aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4/messages/@original',
      },
      'edit failed',
    );
    const out = text();
    expect(out).not.toContain('other-secret');
    expect(out).not.toContain('interaction-token');
    expect(out).not.toContain('aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4');
    expect(out).toContain('/webhooks/123456789012345678/[REDACTED]/messages/@original');
  });

  it('writes structured JSON lines', () => {
    const { log, text } = capture();
    log.info({ jobId: 7 }, 'hello');
    const line = JSON.parse(text().trim()) as { msg: string; jobId: number; level: number };
    expect(line).toMatchObject({ msg: 'hello', jobId: 7, level: 30 });
  });
});
