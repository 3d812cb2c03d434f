import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERRORS, isErrorCode } from './errors.ts';

/** The rows of README's table of error codes ("How a pass works" → "Errors"). */
function readmeTable(): { code: string; class: string; meaning: string }[] {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Errors'), readme.indexOf('## Writing a provider'));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [code = '', cls = '', meaning = ''] = line
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim());
      return { code: code.replaceAll('`', ''), class: cls, meaning };
    });
}

describe('the error catalogue', () => {
  it("and README's table of codes agree, code for code, class and meaning (as fastify checks its docs)", () => {
    const table = readmeTable();
    expect(table.map((r) => r.code)).toEqual([...ERROR_CODES]);
    for (const row of table) {
      if (!isErrorCode(row.code)) throw new Error(`README lists ${row.code}, which is not in the catalogue`);
      const entry = ERRORS[row.code];
      expect({ code: row.code, class: entry.class, meaning: entry.meaning }).toEqual(row);
    }
  });

  it('has a message helper per code that names what failed', () => {
    expect(ERRORS.DELETION_BUDGET.message(7, 5)).toMatch(
      /delete or replace 7 resources, more than the deletion budget of 5/,
    );
    expect(ERRORS.API_ERROR.message('update server a', 'HTTP 503')).toBe('cannot update server a: HTTP 503');
  });
});
