import { describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/errors.js';
import { BUILT_IN_CATALOGUE, ModelCatalogue } from '../../src/services/capabilities.js';
import { parseTimestamps, validateSoraOptions, type SoraOptions } from '../../src/services/sora-request.js';

const limits = { maxImageBytes: 10 * 1024 * 1024 };
const catalogue = new ModelCatalogue(BUILT_IN_CATALOGUE);
const png = { name: 'cat.png', contentType: 'image/png', size: 1000, url: 'https://cdn.example/cat.png' };

function refusal(options: Partial<SoraOptions>): string {
  try {
    validateSoraOptions({ prompt: 'a cat', ...options }, limits, catalogue);
  } catch (err) {
    expect(err).toBeInstanceOf(UserFacingError);
    return (err as UserFacingError).key;
  }
  throw new Error('expected a refusal');
}

describe('validateSoraOptions', () => {
  it('fills the documented defaults', () => {
    expect(validateSoraOptions({ prompt: '  a corgi surfing  ' }, limits, catalogue)).toEqual({
      prompt: 'a corgi surfing',
      model: 'sora-2',
      seconds: 10,
      size: '1280x720',
      image: null,
      imageUrl: null,
      watermark: undefined,
      private: undefined,
      characterUrl: null,
      characterTimestamps: null,
      characterFromTask: null,
      characterCreate: null,
    });
  });

  it('accepts every option together', () => {
    const v = validateSoraOptions(
      {
        prompt: '一只猫',
        model: 'sora-2-pro',
        duration: 25,
        size: '1792x1024',
        image: png,
        watermark: true,
        private: true,
        characterUrl: 'https://example.com/pet.mp4',
        characterTimestamps: '1, 3',
        characterCreate: true,
      },
      limits,
      catalogue,
    );
    expect(v).toMatchObject({
      model: 'sora-2-pro',
      seconds: 25,
      size: '1792x1024',
      watermark: true,
      private: true,
      characterTimestamps: '1,3',
      characterCreate: true,
    });
    expect(v.image).toEqual({ ...png });
  });

  it.each<[string, Partial<SoraOptions>, string]>([
    ['empty prompt', { prompt: '   ' }, 'sora.prompt_empty'],
    ['long prompt', { prompt: 'x'.repeat(2001) }, 'sora.prompt_too_long'],
    ['unknown model', { model: 'sora-9' }, 'sora.model_unknown'],
    ['25 s on sora-2', { duration: 25 }, 'sora.duration_unsupported'],
    ['unknown duration', { model: 'sora-2-pro', duration: 12 }, 'sora.duration_unsupported'],
    ['pro size on sora-2', { size: '1024x1024' }, 'sora.size_unsupported'],
    ['1792x1024 on sora-2', { size: '1792x1024' }, 'sora.size_unsupported'],
    ['unknown size', { model: 'sora-2-pro', size: '640x480' }, 'sora.size_unsupported'],
    ['image and url', { image: png, imageUrl: 'https://x/y.png' }, 'sora.image_and_url'],
    ['gif image', { image: { ...png, name: 'a.gif', contentType: 'image/gif' } }, 'sora.image_type'],
    ['video as image', { image: { ...png, name: 'a.mp4', contentType: 'video/mp4' } }, 'sora.image_type'],
    ['big image', { image: { ...png, size: 11 * 1024 * 1024 } }, 'sora.image_too_big'],
    ['image_url not http', { imageUrl: 'ftp://x/y.png' }, 'sora.url_invalid'],
    ['image_url garbage', { imageUrl: 'cat.png' }, 'sora.url_invalid'],
    ['character_url not a url', { characterUrl: 'my pet video' }, 'sora.url_invalid'],
    ['timestamps alone', { characterTimestamps: '1,3' }, 'sora.timestamps_without_source'],
    ['timestamps format', { characterUrl: 'https://x/v.mp4', characterTimestamps: '1-3' }, 'sora.timestamps_format'],
    ['timestamps too long', { characterUrl: 'https://x/v.mp4', characterTimestamps: '1,5' }, 'sora.timestamps_range'],
    [
      'timestamps too short',
      { characterUrl: 'https://x/v.mp4', characterTimestamps: '2,2.5' },
      'sora.timestamps_range',
    ],
    ['timestamps reversed', { characterUrl: 'https://x/v.mp4', characterTimestamps: '3,1' }, 'sora.timestamps_range'],
    ['bad task id', { characterFromTask: 'not a task id!' }, 'sora.task_id_invalid'],
    ['character_create without url', { characterCreate: true }, 'sora.character_create_without_url'],
  ])('refuses %s', (_name, options, key) => {
    expect(refusal(options)).toBe(key);
  });

  it('takes the image type from the file name when Discord gives none', () => {
    const v = validateSoraOptions(
      { prompt: 'x', image: { ...png, name: 'photo.JPG', contentType: null } },
      limits,
      catalogue,
    );
    expect(v.image?.contentType).toBe('image/jpeg');
  });

  it('accepts character_from_task with timestamps and a full-width comma', () => {
    const v = validateSoraOptions(
      { prompt: 'x', characterFromTask: 'sora-2:task_01k78gpb3ffrmtyww', characterTimestamps: '0，2' },
      limits,
      catalogue,
    );
    expect(v.characterFromTask).toBe('sora-2:task_01k78gpb3ffrmtyww');
    expect(v.characterTimestamps).toBe('0,2');
  });

  it('normalises timestamps', () => {
    expect(parseTimestamps(' 1.5 , 3 ')).toBe('1.5,3');
  });
});
