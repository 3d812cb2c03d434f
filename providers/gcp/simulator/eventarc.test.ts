import { describe, expect, it } from 'vitest';
import { documentEventDataType, encodeDocumentEventData, matchPathPattern } from './eventarc.ts';
import { compileFilter } from './pubsub-filter.ts';

describe('Eventarc document path patterns', () => {
  const cases: [string, string, string, boolean][] = [
    ['a wildcard segment matches one id', 'calls/{id}', 'calls/c1', true],
    ['it does not match a subcollection document', 'calls/{id}', 'calls/c1/notes/n1', false],
    ['another collection does not match', 'calls/{id}', 'chats/c1', false],
    ['a multi-segment wildcard matches below', 'users/{uid}/{rest=**}', 'users/u1/sessions/s1', true],
    ['an exact path matches only itself', 'config/main', 'config/main', true],
    ['an exact path does not match a sibling', 'config/main', 'config/other', false],
    ['two wildcards', 'rooms/{room}/messages/{msg}', 'rooms/r1/messages/m9', true],
  ];
  it.each(cases)('%s', (_why, pattern, path, expected) => {
    expect(matchPathPattern(pattern, path)).toBe(expected);
  });
});

describe('DocumentEventData encoding', () => {
  it('round-trips value, old value and update mask through the protobuf type', () => {
    const buf = encodeDocumentEventData({
      database: 'projects/p/databases/(default)',
      path: 'calls/c1',
      before: {
        fields: { n: { integerValue: '1' } },
        createTime: '2026-01-05T08:00:00.000001Z',
        updateTime: '2026-01-05T08:00:00.000001Z',
      },
      after: {
        fields: {
          n: { integerValue: '2' },
          tags: { arrayValue: { values: [{ stringValue: 'a' }] } },
          meta: { mapValue: { fields: { ok: { booleanValue: true }, none: { nullValue: null } } } },
        },
        createTime: '2026-01-05T08:00:00.000001Z',
        updateTime: '2026-01-05T09:00:00.5Z',
      },
    });
    const T = documentEventDataType();
    // biome-ignore lint/suspicious/noExplicitAny: a decoded protobuf object, read field by field below.
    const data = T.toObject(T.decode(buf), { longs: String, defaults: false }) as Record<string, any>;
    expect(data.value.name).toBe('projects/p/databases/(default)/documents/calls/c1');
    expect(data.value.fields.n.integerValue).toBe('2');
    expect(data.value.fields.tags.arrayValue.values[0].stringValue).toBe('a');
    expect(data.value.fields.meta.mapValue.fields.ok.booleanValue).toBe(true);
    expect(data.value.updateTime).toEqual({ seconds: String(Date.UTC(2026, 0, 5, 9) / 1000), nanos: 500_000_000 });
    expect(data.oldValue.fields.n.integerValue).toBe('1');
    expect(data.updateMask.fieldPaths).toEqual(['meta', 'n', 'tags']);
  });
});

describe('Pub/Sub subscription filters', () => {
  const attrs = { kind: 'message', room: 'general', lang: 'de' };
  const cases: [string, boolean][] = [
    ['attributes.kind = "message"', true],
    ['attributes.kind != "message"', false],
    ['attributes:room', true],
    ['NOT attributes:missing', true],
    ['attributes.kind = "message" AND attributes.lang = "en"', false],
    ['attributes.kind = "edit" OR attributes.lang = "de"', true],
    ['hasPrefix(attributes.room, "gen")', true],
    ['(attributes.kind = "edit" OR attributes.kind = "message") AND -attributes:bot', true],
  ];
  it.each(cases)('%s → %s', (filter, expected) => {
    expect(compileFilter(filter)(attrs)).toBe(expected);
  });
  it('refuses what it cannot read, naming the filter', () => {
    expect(() => compileFilter('data = "x"')).toThrow(/only attributes can be filtered on/);
    expect(() => compileFilter('attributes.a ~ "x"')).toThrow(/cannot parse/);
  });
});
