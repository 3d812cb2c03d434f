import type { StateData } from './types.ts';

/**
 * Checks a state document read from a store before anything trusts it: a state that lost a
 * section (or has `null` in its place) is not an empty state, it is a damaged one, and saving over
 * it would make keelson forget what it owns. Returns the problems, each with its JSON path; an
 * empty list means the document has the shape keelson writes. Sections added in later versions
 * (`unstable`, `lastGood`, `outbox`, `healed`) may be missing; when present they are checked too.
 */
export function stateProblems(data: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(data)) return ['the document is not a JSON object'];
  if (data.version !== 1) problems.push(`version: expected 1, found ${show(data.version)}`);

  const records = (
    section: string,
    required: boolean,
    check: (path: string, value: Record<string, unknown>) => void,
  ) => {
    const value = data[section];
    if (value === undefined && !required) return;
    if (!isObject(value)) {
      problems.push(`${section}: expected an object of records, found ${show(value)}`);
      return;
    }
    for (const [key, record] of Object.entries(value)) {
      const path = `${section}[${JSON.stringify(key)}]`;
      if (!isObject(record)) problems.push(`${path}: expected an object, found ${show(record)}`);
      else check(path, record);
    }
  };
  const strings = (path: string, record: Record<string, unknown>, fields: readonly string[]) => {
    for (const f of fields)
      if (typeof record[f] !== 'string') problems.push(`${path}.${f}: expected a string, found ${show(record[f])}`);
  };

  records('inventory', true, (p, r) => strings(p, r, ['key', 'kind', 'id']));
  records('applied', true, (p, r) => {
    strings(p, r, ['digest', 'revision', 'at']);
    if (typeof r.protect !== 'boolean') problems.push(`${p}.protect: expected true or false, found ${show(r.protect)}`);
  });
  records('journal', true, (p, r) => strings(p, r, ['key', 'kind', 'name', 'revision', 'at']));
  records('drift', true, (p, r) => {
    strings(p, r, ['key', 'fingerprint', 'firstSeen', 'lastSeen']);
    if (typeof r.observations !== 'number') problems.push(`${p}.observations: expected a number`);
  });
  records('unstable', false, (p, r) => strings(p, r, ['digest', 'at']));
  records('healed', false, (p, r) => strings(p, r, ['fingerprint', 'at']));
  if (data.outbox !== undefined && !isObject(data.outbox))
    problems.push(`outbox: expected an object, found ${show(data.outbox)}`);
  if (isObject(data.outbox)) {
    for (const [channel, list] of Object.entries(data.outbox)) {
      if (!Array.isArray(list))
        problems.push(`outbox[${JSON.stringify(channel)}]: expected a list, found ${show(list)}`);
    }
  }
  if (!Array.isArray(data.runs)) problems.push(`runs: expected a list, found ${show(data.runs)}`);
  if (data.lastGood !== undefined && (!isObject(data.lastGood) || typeof data.lastGood.revision !== 'string'))
    problems.push(`lastGood: expected { revision, at }, found ${show(data.lastGood)}`);
  return problems;
}

/** Throws an error naming `where` and every problem (at most 5 shown) when `data` is not a valid state. */
export function checkState(data: unknown, where: string): StateData {
  const problems = stateProblems(data);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new Error(
      `cannot use the state in ${where}: ${shown}${more}. keelson did not change it; restore an earlier copy (the file store keeps the last 3 beside it as .1, .2, .3) or repair it by hand`,
    );
  }
  return data as unknown as StateData;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'a string' : String(v);
}
