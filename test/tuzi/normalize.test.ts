import { errors as undiciErrors } from 'undici';
import { describe, expect, it } from 'vitest';
import { curveProgress, EmulatedJob } from '../../emulators/tuzi/jobs.js';
import { parseCharacterTimestamps } from '../../emulators/tuzi/validate.js';
import { ManualClock } from '../../src/clock.js';
import { classifyTransportError } from '../../src/services/tuzi/errors.js';
import {
  clampProgress,
  encodeIdSegment,
  normaliseTask,
  normaliseTimestamp,
  parseErrorBody,
  parseRetryAfter,
  scrubSecret,
} from '../../src/services/tuzi/normalize.js';

describe('normaliseTimestamp', () => {
  it('reads 13-digit values as milliseconds and 10-digit values as seconds', () => {
    expect(normaliseTimestamp(1760148794833)).toBe(1760148794833);
    expect(normaliseTimestamp(1760148794)).toBe(1760148794000);
    expect(normaliseTimestamp('1760148794')).toBe(1760148794000);
    expect(normaliseTimestamp(1e12 + 1)).toBe(1e12 + 1);
  });

  it('drops values that are not timestamps', () => {
    expect(normaliseTimestamp(undefined)).toBeUndefined();
    expect(normaliseTimestamp('soon')).toBeUndefined();
    expect(normaliseTimestamp(0)).toBeUndefined();
    expect(normaliseTimestamp(Number.NaN)).toBeUndefined();
  });
});

describe('normaliseTask', () => {
  it('maps the seed example', () => {
    expect(
      normaliseTask({
        id: 'sora-2:task_01k78gpb3ffrmtyww',
        object: 'video',
        model: 'sora-2',
        status: 'queued',
        progress: 0,
        created_at: 1760148794833,
        seconds: '10',
      }),
    ).toEqual({
      id: 'sora-2:task_01k78gpb3ffrmtyww',
      status: 'queued',
      rawStatus: 'queued',
      progress: 0,
      model: 'sora-2',
      seconds: 10,
      createdAt: 1760148794833,
    });
  });

  it('keeps an unknown status as unknown with the raw string, and clamps progress', () => {
    const task = normaliseTask({ id: 'x:1', status: 'moderating', progress: 140 });
    expect(task).toMatchObject({ status: 'unknown', rawStatus: 'moderating', progress: 100 });
    expect(normaliseTask({ id: 'x:1', status: 'in_progress', progress: -3 })?.progress).toBe(0);
    expect(normaliseTask({ id: 'x:1', status: 'in_progress', progress: '42.5' })?.progress).toBe(42.5);
    expect(normaliseTask({ id: 'x:1' })).toMatchObject({ status: 'unknown', rawStatus: '', progress: 0 });
  });

  it('reads a failure and a video url', () => {
    expect(
      normaliseTask({
        id: 'x:1',
        status: 'failed',
        progress: 93,
        error: { code: 'content_policy_violation', message: 'blocked' },
      })?.error,
    ).toEqual({ code: 'content_policy_violation', message: 'blocked' });
    expect(normaliseTask({ id: 'x:1', status: 'failed', error: 'boom' })?.error).toEqual({
      code: 'unknown',
      message: 'boom',
    });
    expect(normaliseTask({ id: 'x:1', status: 'completed', video_url: 'https://cdn/x.mp4' })).toMatchObject({
      progress: 100,
      videoUrl: 'https://cdn/x.mp4',
    });
  });

  it('refuses bodies without a string id', () => {
    expect(normaliseTask({ status: 'queued' })).toBeUndefined();
    expect(normaliseTask({ id: 7 })).toBeUndefined();
    expect(normaliseTask('x')).toBeUndefined();
    expect(normaliseTask(null)).toBeUndefined();
  });

  it('clampProgress ignores non-numbers', () => {
    expect(clampProgress('n/a')).toBeUndefined();
    expect(clampProgress(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('encodeIdSegment', () => {
  it('keeps the colon raw like public clients', () => {
    expect(encodeIdSegment('sora-2:task_01k78gpb3ffrmtyww')).toBe('sora-2:task_01k78gpb3ffrmtyww');
  });

  it('escapes everything that would change the path', () => {
    expect(encodeIdSegment('a/b?c#d%e f')).toBe('a%2Fb%3Fc%23d%25e%20f');
    expect(encodeIdSegment('é')).toBe('%C3%A9');
  });

  it('refuses dot segments and empty ids', () => {
    expect(() => encodeIdSegment('..')).toThrow(TypeError);
    expect(() => encodeIdSegment('.')).toThrow(TypeError);
    expect(() => encodeIdSegment('')).toThrow(TypeError);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it('reads delta-seconds, HTTP dates and retry-after-ms', () => {
    expect(parseRetryAfter('3', undefined, now)).toBe(3000);
    expect(parseRetryAfter('0', undefined, now)).toBe(0);
    expect(parseRetryAfter(new Date(now + 7000).toUTCString(), undefined, now)).toBe(7000);
    expect(parseRetryAfter(new Date(now - 7000).toUTCString(), undefined, now)).toBe(0);
    expect(parseRetryAfter('3', '1250', now)).toBe(1250);
    expect(parseRetryAfter('soon', undefined, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, undefined, now)).toBeUndefined();
  });
});

describe('parseErrorBody', () => {
  it('reads the OpenAI shape and looser ones', () => {
    expect(parseErrorBody('{"error":{"message":"m","type":"t","code":"c"}}')).toEqual({
      message: 'm',
      type: 't',
      code: 'c',
    });
    expect(parseErrorBody('{"error":"plain"}')).toEqual({ message: 'plain' });
    expect(parseErrorBody('<html>bad gateway</html>')).toEqual({ message: '<html>bad gateway</html>' });
    expect(parseErrorBody('')).toEqual({});
  });

  it('scrubSecret removes every occurrence', () => {
    expect(scrubSecret('key sk-1 and sk-1', 'sk-1')).toBe('key [REDACTED] and [REDACTED]');
  });
});

describe('classifyTransportError', () => {
  it('treats connect-phase failures as never sent', () => {
    for (const err of [
      new undiciErrors.ConnectTimeoutError(),
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]),
    ]) {
      expect(classifyTransportError(err)).toMatchObject({ retryable: true, mayHaveReachedServer: false });
    }
  });

  it('treats everything after connecting as possibly received', () => {
    expect(classifyTransportError(new undiciErrors.HeadersTimeoutError())).toMatchObject({
      kind: 'timeout',
      retryable: true,
      mayHaveReachedServer: true,
    });
    expect(classifyTransportError(new undiciErrors.BodyTimeoutError())).toMatchObject({
      kind: 'timeout',
      mayHaveReachedServer: true,
    });
    expect(classifyTransportError(new undiciErrors.SocketError('other side closed'))).toMatchObject({
      kind: 'network',
      mayHaveReachedServer: true,
    });
    expect(classifyTransportError(new Error('mystery'))).toMatchObject({ mayHaveReachedServer: true });
  });

  it('does not retry certificate failures', () => {
    expect(
      classifyTransportError(Object.assign(new Error('cert'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })),
    ).toMatchObject({ retryable: false, mayHaveReachedServer: false });
  });
});

describe('emulator progress curves', () => {
  it('linear, steps and stall-90 have their shapes', () => {
    expect([0, 0.25, 0.5, 0.999, 1].map((f) => curveProgress('linear', f))).toEqual([0, 25, 50, 99, 99]);
    expect([0, 0.19, 0.2, 0.5, 0.99].map((f) => curveProgress('steps', f))).toEqual([0, 0, 20, 40, 80]);
    expect([0, 0.15, 0.3, 0.6, 0.99].map((f) => curveProgress('stall-90', f))).toEqual([0, 45, 90, 90, 90]);
    const points = {
      points: [
        [0, 0],
        [0.5, 10],
        [1, 90],
      ] as const,
    };
    expect([0, 0.25, 0.5, 0.75, 1].map((f) => curveProgress(points, f))).toEqual([0, 5, 10, 50, 90]);
  });

  it('a failure the curve never reaches happens at the end', () => {
    const clock = new ManualClock();
    const job = new EmulatedJob(
      {
        id: 'sora-2:task_x',
        index: 0,
        model: 'sora-2',
        prompt: 'p',
        seconds: 10,
        size: '1280x720',
        createdAt: clock.now(),
        plan: {
          durationMs: 1000,
          queuedFraction: 0,
          curve: 'stall-90',
          failure: { atProgress: 95, code: 'content_policy_violation', message: 'late' },
        },
        videoToken: 't',
        fields: {},
      },
      clock,
    );
    expect(job.stateAt(clock.now() + 999)).toEqual({ status: 'in_progress', progress: 90 });
    expect(job.stateAt(clock.now() + 1000)).toEqual({
      status: 'failed',
      progress: 90,
      error: { code: 'content_policy_violation', message: 'late' },
    });
  });

  it('character timestamps must be start,end with a 1..3 s span', () => {
    expect(parseCharacterTimestamps('1,3')).toEqual({ start: 1, end: 3 });
    expect(parseCharacterTimestamps('0.5, 2')).toEqual({ start: 0.5, end: 2 });
    for (const bad of ['1,5', '3,1', '1,1.5', '1-3', 'a,b', '1,', ',3', '-1,1']) {
      expect(parseCharacterTimestamps(bad), bad).toBeUndefined();
    }
  });
});
