import { describe, expect, it } from 'vitest';
import { deleteIgnoringMissing } from './delete-ignoring-missing.ts';
import { KeelsonError } from './errors.ts';
import { findOrClaim } from './find-or-claim.ts';
import { resolvedResource } from './testing.ts';

const schema = { kind: 'mem.Thing', description: 'test', spec: {} };
interface Thing {
  readonly id: number;
  readonly owner: string;
}

/** A vendor with a name index; `lostAnswer` makes the next create succeed at the vendor but fail for the caller. */
function vendor(existing?: Thing) {
  let stored = existing;
  let creates = 0;
  let lostAnswer = false;
  return {
    get creates() {
      return creates;
    },
    loseNextAnswer() {
      lostAnswer = true;
    },
    options(adopt = false) {
      return {
        desired: resolvedResource(schema, 'a', {}, { adopt }),
        find: async () => stored,
        owned: (t: Thing) => t.owner === 'me',
        create: async () => {
          if (stored) throw new Error('name taken');
          creates++;
          stored = { id: 1, owner: 'me' };
          if (lostAnswer) throw new Error('socket hang up');
          return stored;
        },
        claim: async (t: Thing) => {
          stored = { ...t, owner: 'me' };
          return stored;
        },
        alreadyExists: (e: unknown) => (e as Error).message === 'name taken',
      };
    },
  };
}

describe('findOrClaim', () => {
  // Each case: what exists at the vendor, whether the resource says adopt, and what must happen.
  const cases = [
    { why: 'nothing there: it is created', existing: undefined, adopt: false, outcome: 'created', creates: 1 },
    {
      why: 'ours already (a retried create): returned, not created twice',
      existing: { id: 7, owner: 'me' },
      adopt: false,
      outcome: 'found',
      creates: 0,
    },
    {
      why: 'someone else’s, with adopt: claimed',
      existing: { id: 7, owner: 'them' },
      adopt: true,
      outcome: 'claimed',
      creates: 0,
    },
  ] as const;
  it.each(cases)('$why', async ({ existing, adopt, outcome, creates }) => {
    const v = vendor(existing);
    const result = await findOrClaim(v.options(adopt));
    expect(result.outcome).toBe(outcome);
    expect(result.item.owner).toBe('me');
    expect(v.creates).toBe(creates);
  });

  it('someone else’s, without adopt: a terminal CONFLICT_UNOWNED naming the resource and the way out', async () => {
    const error = await findOrClaim(vendor({ id: 7, owner: 'them' }).options()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFLICT_UNOWNED', class: 'terminal', resource: 'mem.Thing/a' });
    expect((error as Error).message).toContain('adopt: true');
  });

  it('a create refused because the name is taken (an earlier answer was lost) looks again and returns it', async () => {
    let lookups = 0;
    const result = await findOrClaim<Thing>({
      desired: resolvedResource(schema, 'a', {}),
      // the first lookup ran before the earlier attempt's create landed
      find: async () => (lookups++ === 0 ? undefined : { id: 1, owner: 'me' }),
      owned: (t) => t.owner === 'me',
      create: async () => {
        throw new Error('name taken');
      },
      claim: async (t) => t,
      alreadyExists: (e) => (e as Error).message === 'name taken',
    });
    expect(result).toEqual({ item: { id: 1, owner: 'me' }, outcome: 'found' });
    expect(lookups).toBe(2);
  });

  it('any other create failure is thrown as it is', async () => {
    const v = vendor();
    v.loseNextAnswer();
    await expect(findOrClaim(v.options())).rejects.toThrow('socket hang up');
  });
});

describe('deleteIgnoringMissing', () => {
  it('returns the answer, succeeds when the resource is gone, and throws anything else', async () => {
    expect(await deleteIgnoringMissing(async () => 'done')).toBe('done');
    const missing = new KeelsonError('gone', { code: 'NOT_FOUND', class: 'terminal' });
    expect(
      await deleteIgnoringMissing(async () => {
        throw missing;
      }),
    ).toBeUndefined();
    await expect(
      deleteIgnoringMissing(async () => {
        throw new KeelsonError('protected', { code: 'PROTECTED', class: 'terminal' });
      }),
    ).rejects.toThrow('protected');
    await expect(
      deleteIgnoringMissing(
        async () => {
          throw { status: 404 };
        },
        (e) => (e as { status?: number }).status === 404,
      ),
    ).resolves.toBeUndefined();
  });
});
