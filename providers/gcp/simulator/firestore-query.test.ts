import { describe, expect, it } from 'vitest';
import { indexServes, neededIndex, type QueryDoc, runStructuredQuery } from './firestore-query.ts';
import type { Json } from './state.ts';

const db = 'projects/p/databases/(default)';
const doc = (path: string, fields: Json): QueryDoc => ({
  path,
  name: `${db}/documents/${path}`,
  doc: { fields, createTime: '2026-01-05T08:00:00Z', updateTime: '2026-01-05T08:00:00Z' },
});
const s = (v: string) => ({ stringValue: v });
const n = (v: number) => ({ integerValue: String(v) });
const docs = [
  doc('calls/a', { status: s('open'), n: n(3), tags: { arrayValue: { values: [s('x'), s('y')] } } }),
  doc('calls/b', { status: s('closed'), n: n(1), tags: { arrayValue: { values: [s('y')] } } }),
  doc('calls/c', { status: s('open'), n: n(2) }),
  doc('calls/d', { status: s('new'), n: { doubleValue: 2.5 } }),
  doc('calls/e', { status: s('open') }),
];
const field = (fieldPath: string) => ({ field: { fieldPath } });
const ff = (fieldPath: string, op: string, value: Json) => ({ fieldFilter: { ...field(fieldPath), op, value } });
const ids = (q: Json) => runStructuredQuery(q, docs).map((d) => d.path.split('/')[1]);

describe('structured queries', () => {
  const cases: [string, Json, string[]][] = [
    ['equality', { where: ff('status', 'EQUAL', s('open')) }, ['a', 'c', 'e']],
    [
      'range orders by the field and drops documents without it',
      { where: ff('n', 'GREATER_THAN', n(1)) },
      ['c', 'd', 'a'],
    ],
    ['integers and doubles compare as numbers', { where: ff('n', 'LESS_THAN', { doubleValue: 2.6 }) }, ['b', 'c', 'd']],
    ['IN', { where: ff('status', 'IN', { arrayValue: { values: [s('new'), s('closed')] } }) }, ['b', 'd']],
    [
      'NOT_IN drops missing fields too',
      { where: ff('status', 'NOT_IN', { arrayValue: { values: [s('open')] } }) },
      ['b', 'd'],
    ],
    ['ARRAY_CONTAINS', { where: ff('tags', 'ARRAY_CONTAINS', s('y')) }, ['a', 'b']],
    [
      'ARRAY_CONTAINS_ANY',
      { where: ff('tags', 'ARRAY_CONTAINS_ANY', { arrayValue: { values: [s('x'), s('z')] } }) },
      ['a'],
    ],
    [
      'OR',
      { where: { compositeFilter: { op: 'OR', filters: [ff('status', 'EQUAL', s('new')), ff('n', 'EQUAL', n(1))] } } },
      ['b', 'd'],
    ],
    ['IS_NULL on a missing field matches nothing', { where: { unaryFilter: { op: 'IS_NULL', ...field('n') } } }, []],
    [
      'orderBy descending with a limit',
      { orderBy: [{ ...field('n'), direction: 'DESCENDING' }], limit: 2 },
      ['a', 'd'],
    ],
    ['offset', { orderBy: [field('n')], offset: 1, limit: 2 }, ['c', 'd']],
    [
      'startAt before a value includes it',
      { orderBy: [field('n')], startAt: { values: [n(2)], before: true } },
      ['c', 'd', 'a'],
    ],
    [
      'startAfter (before false) excludes it',
      { orderBy: [field('n')], startAt: { values: [n(2)], before: false } },
      ['d', 'a'],
    ],
    [
      'endAt includes the bound',
      { orderBy: [field('n')], endAt: { values: [{ doubleValue: 2.5 }], before: false } },
      ['b', 'c', 'd'],
    ],
  ];
  it.each(cases)('%s', (_why, q, expected) => {
    expect(ids({ from: [{ collectionId: 'calls' }], ...q })).toEqual(expected);
  });
});

describe('which queries need a composite index', () => {
  const cases: [string, Json, boolean][] = [
    [
      'equality on two fields merges single-field indexes',
      { where: { compositeFilter: { op: 'AND', filters: [ff('a', 'EQUAL', n(1)), ff('b', 'EQUAL', n(2))] } } },
      false,
    ],
    ['one range field alone', { where: ff('n', 'GREATER_THAN', n(1)) }, false],
    ['orderBy one field alone', { orderBy: [field('n')] }, false],
    [
      'equality plus orderBy on another field',
      { where: ff('status', 'EQUAL', s('open')), orderBy: [field('n')] },
      true,
    ],
    ['orderBy two fields', { orderBy: [field('a'), field('b')] }, true],
  ];
  it.each(cases)('%s → %s', (_why, q, needs) => {
    expect(neededIndex(q) !== undefined).toBe(needs);
  });

  it('an index serves when its fields are the equality fields, then the order fields in order and direction', () => {
    const need = neededIndex({
      where: ff('status', 'EQUAL', s('open')),
      orderBy: [{ ...field('n'), direction: 'DESCENDING' }],
    })!;
    const index = (fields: [string, string][], state = 'READY') => ({
      state,
      fields: [
        ...fields.map(([fieldPath, order]) => ({ fieldPath, order })),
        { fieldPath: '__name__', order: 'DESCENDING' },
      ],
    });
    expect(
      indexServes(
        index([
          ['status', 'ASCENDING'],
          ['n', 'DESCENDING'],
        ]),
        need,
      ),
    ).toBe(true);
    expect(
      indexServes(
        index([
          ['status', 'ASCENDING'],
          ['n', 'ASCENDING'],
        ]),
        need,
      ),
    ).toBe(false);
    expect(
      indexServes(
        index([
          ['n', 'DESCENDING'],
          ['status', 'ASCENDING'],
        ]),
        need,
      ),
    ).toBe(false);
    expect(
      indexServes(
        index(
          [
            ['status', 'ASCENDING'],
            ['n', 'DESCENDING'],
          ],
          'CREATING',
        ),
        need,
      ),
    ).toBe(false);
  });
});
