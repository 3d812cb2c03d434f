// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Compose expressions, not templates
import { describe, expect, it } from 'vitest';
import { InterpolationError, interpolate, interpolateText } from './interpolate.ts';

const values = { NAME: 'web', EMPTY: '', PORT: 8080, ON: true, mongo: { replicas: 3 }, 'dotted.key': 'exact' };

describe('interpolate (Compose rules)', () => {
  it.each([
    ['${NAME}', 'web'],
    ['$NAME-x', 'web-x'],
    ['${PORT}', 8080], // a whole-scalar variable keeps its type
    ['port ${PORT}', 'port 8080'],
    ['${ON}', true],
    ['${UNSET:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'], // :- also covers empty
    ['${EMPTY-fallback}', ''], // - only covers unset
    ['${UNSET-${NAME}}', 'web'], // defaults may nest
    ['${NAME:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${mongo.replicas}', 3], // dotted path into nested values
    ['${dotted.key}', 'exact'], // an exact key wins over a path
    ['$$NAME costs $5', '$NAME costs $5'], // $$ escapes; a lone $ stays
  ])('%s -> %j', (input, expected) => {
    expect(interpolate(input, values)).toEqual(expected);
  });

  it.each([
    ['${UNSET}', /variable UNSET is not set/, 0],
    ['a ${UNSET?tell me}', /required variable UNSET is missing a value: tell me/, 2],
    ['${EMPTY:?needed}', /required variable EMPTY is missing a value: needed/, 0],
    ['x ${NAME', /unterminated/, 2],
    ['${NAME%x}', /unknown operator/, 0],
  ])('%s fails, pointing at its offset', (input, message, offset) => {
    let error: unknown;
    try {
      interpolate(input, values);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InterpolationError);
    expect((error as Error).message).toMatch(message);
    expect((error as InterpolationError).offset).toBe(offset);
  });

  it('interpolates a whole text to a string', () => {
    expect(interpolateText('port=${PORT}\nname=$NAME\n', values)).toBe('port=8080\nname=web\n');
  });
});
