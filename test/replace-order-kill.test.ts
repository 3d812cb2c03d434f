import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseComment } from '../providers/cloudflare/ownership.ts';
import type { HeldRequest } from '../providers/cloudflare/simulator/index.ts';
import { type CloudflareTestRig, startCloudflareRig } from '../providers/cloudflare/testing.ts';

/**
 * kill -9 of `keelson apply` between the two steps of a create-first replacement: the new DNS
 * record is created and recorded, the DELETE of the old one is on its way (the simulator holds it:
 * not done, never answered), and the process dies there. Then `keelson plan` and `keelson apply`
 * on the same state and the same simulator. Why the expected result is right: the old record is
 * owned and no longer what Git describes, so the next pass must report it as a leftover of the
 * replacement and delete it — exactly once — while the new record is found as it is (a no-op:
 * nothing created twice), the create journal ends empty, and a last plan has nothing to do.
 */
const BIN = resolve(import.meta.dirname, '../bin/keelson.js');
const DNS = /^\/zones\/[^/]+\/dns_records/;
const record = (type: string, content: string) =>
  `kind: cloudflare.DnsRecord\nname: www\nspec:\n  zone: example.com\n  name: www\n  type: ${type}\n  content: ${content}\n  ttl: 300\n`;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Run {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function keelson(args: readonly string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KEELSON_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (ok) => child.on('close', (code, signal) => ok({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

interface Row {
  readonly point: string;
  readonly hold: HeldRequest;
  /** The create journal at the kill: the create in flight is still journaled. */
  readonly journaled: boolean;
}

const ROWS: readonly Row[] = [
  {
    point: 'after the create was recorded, at the DELETE of the old record (not done)',
    hold: { method: 'DELETE', path: DNS },
    journaled: false,
  },
  {
    point: 'after the POST of the new record was done, before its answer arrived (journal not cleared)',
    hold: { method: 'POST', path: DNS, afterWork: true },
    journaled: true,
  },
];

describe('kill -9 between the create and the delete of a create-first replacement', () => {
  for (const row of ROWS) {
    it(`${row.point}: the next pass deletes the old record exactly once and creates nothing`, {
      timeout: 120_000,
    }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keelson-replace-kill-'));
      const cf: CloudflareTestRig = await startCloudflareRig();
      try {
        const tree = join(dir, 'desired');
        mkdirSync(tree);
        const state = join(dir, 'state.json');
        const env = cf.sim.env();
        const args = (cmd: string, ...more: string[]) => [
          cmd,
          tree,
          '--state',
          state,
          '--owner',
          'keelson-kill',
          ...more,
        ];

        writeFileSync(join(tree, 'dns.yaml'), record('A', '203.0.113.10'));
        const first = await keelson(args('apply', '--auto-approve'), env).done;
        expect(first.code, first.stderr).toBe(0);
        const oldId = [...cf.sim.state.records.values()][0]?.id as string;
        const oldDigest = JSON.parse(readFileSync(state, 'utf8')).applied['cloudflare.DnsRecord/www'].digest;

        writeFileSync(join(tree, 'dns.yaml'), record('AAAA', '2001:db8::10'));
        const held = cf.sim.hold(row.hold);
        const killed = keelson(args('apply', '--auto-approve'), env);
        await held;
        killed.child.kill('SIGKILL');
        expect((await killed.done).signal).toBe('SIGKILL');
        // At the kill: both records exist, both marked as keelson's `www`; the new one is recorded.
        const atKill = [...cf.sim.state.records.values()].map((r) => [r.type, parseComment(r.comment).name]);
        expect(atKill.sort()).toEqual([
          ['A', 'www'],
          ['AAAA', 'www'],
        ]);
        const saved = JSON.parse(readFileSync(state, 'utf8'));
        expect(Object.keys(saved.journal)).toEqual(row.journaled ? ['cloudflare.DnsRecord/www'] : []);

        // The recovery plan: the new record is up to date, the old one is a leftover to delete.
        const plan = await keelson(args('plan', '--json'), env).done;
        expect(plan.code, plan.stderr).toBe(0);
        const json = JSON.parse(plan.stdout) as {
          changes: { address: string; actions: string[]; detail: string | null }[];
          summary: Record<string, number>;
        };
        expect(json.summary).toMatchObject({ create: 0, update: 0, replace: 0, delete: 1, noop: 1 });
        const leftover = json.changes.find((c) => c.actions[0] === 'delete');
        expect(leftover?.address).toMatch(/^cloudflare\.DnsRecord\/www~replaced-[0-9a-f]{10}$/);
        expect(leftover?.detail).toContain(`left over from a replacement of cloudflare.DnsRecord/www (id ${oldId})`);

        const from = cf.sim.requests.length;
        const recovery = await keelson(args('apply', '--auto-approve'), env).done;
        expect(recovery.code, recovery.stderr).toBe(0);
        const writes = cf.sim.requests.slice(from).filter((r) => DNS.test(r.path) && r.method !== 'GET');
        expect(writes.map((r) => `${r.method} ${r.path.endsWith(oldId) ? 'old' : r.path}`)).toEqual(['DELETE old']);
        expect([...cf.sim.state.records.values()].map((r) => [r.type, r.content])).toEqual([['AAAA', '2001:db8::10']]);
        const after = JSON.parse(readFileSync(state, 'utf8'));
        expect(after.journal).toEqual({});
        expect(Object.keys(after.applied)).toEqual(['cloudflare.DnsRecord/www']);
        // What is recorded as applied is the new record's spec, not the old one's.
        expect(after.applied['cloudflare.DnsRecord/www'].digest).not.toBe(oldDigest);

        const last = await keelson(args('plan', '--detailed-exitcode'), env).done;
        expect(last.code, last.stdout + last.stderr).toBe(0);
      } finally {
        await cf.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/**
 * The same kill for a Worker route moved to another zone (create-first: the patterns differ).
 * Routes carry no labels: what is keelson's is its inventory. Why the expected result is right:
 * the old route is recorded under its leftover key before the new one is created, so after the
 * kill the next pass finds it as a leftover and deletes it exactly once, the new route (recorded,
 * or claimed through the create journal when the kill took its answer) is found as it is, and the
 * inventory ends with the new route only.
 */
const ROUTES = /^\/zones\/[^/]+\/workers\/routes/;
const ROUTE_KEY = 'cloudflare.WorkerRoute/hooks';
const route = (zone: string) =>
  `kind: cloudflare.WorkerRoute\nname: hooks\nspec:\n  zone: ${zone}\n  pattern: hooks.${zone}/aircall*\n  script: aircall-webhook\n`;

const ROUTE_ROWS: readonly Row[] = [
  {
    point: 'after the new route was recorded, at the DELETE of the old route (not done)',
    hold: { method: 'DELETE', path: ROUTES },
    journaled: false,
  },
  {
    point: 'after the POST of the new route was done, before its answer arrived (not recorded)',
    hold: { method: 'POST', path: ROUTES, afterWork: true },
    journaled: true,
  },
];

describe('kill -9 between the create and the delete of a Worker route moved to another zone', () => {
  for (const row of ROUTE_ROWS) {
    it(`${row.point}: the next pass deletes the old route exactly once and creates nothing`, {
      timeout: 120_000,
    }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keelson-replace-kill-route-'));
      const cf: CloudflareTestRig = await startCloudflareRig({ zones: ['example.com', 'example.org'] });
      try {
        const tree = join(dir, 'desired');
        mkdirSync(tree);
        const state = join(dir, 'state.json');
        const env = cf.sim.env();
        const args = (cmd: string, ...more: string[]) => [
          cmd,
          tree,
          '--state',
          state,
          '--owner',
          'keelson-kill',
          ...more,
        ];
        const live = () => {
          const zoneName = new Map([...cf.sim.state.zones.values()].map((z) => [z.id, z.name]));
          return [...cf.sim.state.routes.values()].map((r) => [zoneName.get(r.zone_id), r.pattern]).sort();
        };
        const inventory = () =>
          Object.values(
            JSON.parse(readFileSync(state, 'utf8')).inventory as Record<string, { key: string; id: string }>,
          )
            .filter((e) => e.key.startsWith('cloudflare.WorkerRoute/'))
            .map((e) => [e.key, e.id]);

        writeFileSync(join(tree, 'route.yaml'), route('example.com'));
        const first = await keelson(args('apply', '--auto-approve'), env).done;
        expect(first.code, first.stderr).toBe(0);
        const oldId = [...cf.sim.state.routes.values()][0]?.id as string;

        writeFileSync(join(tree, 'route.yaml'), route('example.org'));
        const held = cf.sim.hold(row.hold);
        const killed = keelson(args('apply', '--auto-approve'), env);
        await held;
        killed.child.kill('SIGKILL');
        expect((await killed.done).signal).toBe('SIGKILL');
        // At the kill: both routes exist; the old one is recorded under its leftover key.
        expect(live()).toEqual([
          ['example.com', 'hooks.example.com/aircall*'],
          ['example.org', 'hooks.example.org/aircall*'],
        ]);
        const newId = [...cf.sim.state.routes.values()].find((r) => r.id !== oldId)?.id as string;
        const saved = JSON.parse(readFileSync(state, 'utf8'));
        expect(Object.keys(saved.journal)).toEqual(row.journaled ? [ROUTE_KEY] : []);
        const leftoverKey = expect.stringMatching(/^cloudflare\.WorkerRoute\/hooks~replaced-[0-9a-f]{10}$/);
        expect(inventory().sort()).toEqual(
          row.journaled
            ? [[leftoverKey, oldId]]
            : [
                [ROUTE_KEY, newId],
                [leftoverKey, oldId],
              ],
        );

        const plan = await keelson(args('plan', '--json'), env).done;
        expect(plan.code, plan.stderr).toBe(0);
        const json = JSON.parse(plan.stdout) as {
          changes: { address: string; actions: string[]; detail: string | null }[];
          summary: Record<string, number>;
        };
        expect(json.summary).toMatchObject({ create: 0, update: 0, replace: 0, delete: 1, noop: 1 });
        const leftover = json.changes.find((c) => c.actions[0] === 'delete');
        expect(leftover?.address).toMatch(/^cloudflare\.WorkerRoute\/hooks~replaced-[0-9a-f]{10}$/);
        expect(leftover?.detail).toContain(`left over from a replacement of ${ROUTE_KEY} (id ${oldId})`);

        const from = cf.sim.requests.length;
        const recovery = await keelson(args('apply', '--auto-approve'), env).done;
        expect(recovery.code, recovery.stderr).toBe(0);
        const writes = cf.sim.requests.slice(from).filter((r) => ROUTES.test(r.path) && r.method !== 'GET');
        expect(writes.map((r) => `${r.method} ${r.path.endsWith(oldId) ? 'old' : r.path}`)).toEqual(['DELETE old']);
        expect(live()).toEqual([['example.org', 'hooks.example.org/aircall*']]);
        expect(inventory()).toEqual([[ROUTE_KEY, newId]]);
        const after = JSON.parse(readFileSync(state, 'utf8'));
        expect(after.journal).toEqual({});

        const last = await keelson(args('plan', '--detailed-exitcode'), env).done;
        expect(last.code, last.stdout + last.stderr).toBe(0);
      } finally {
        await cf.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
