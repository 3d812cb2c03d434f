/**
 * What the tests of keelson running as Swarm replicas read and write around them: a push from the
 * work clone of the desired-state repository, and the lease and last good revision in the shared
 * state folder (the file store: `state.json` and `state.json.lease`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes the files into the clone `work`, commits and pushes to main; returns the commit sha. */
export function pushFiles(work: string, files: Record<string, string>, message = 'change'): string {
  const git = (args: string[]) =>
    execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
      cwd: work,
      stdio: 'ignore',
    });
  for (const [path, text] of Object.entries(files)) writeFileSync(join(work, path), text);
  git(['add', '-A']);
  git(['commit', '-qm', message]);
  git(['push', '-q', 'origin', 'HEAD:main']);
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: work }).toString().trim();
}

export interface LeaseFile {
  readonly holder: string;
  readonly generation: number;
  readonly expiresAt: number;
}

/** The lease in the state folder, or undefined before anyone took it. */
export function readLease(stateDir: string): LeaseFile | undefined {
  const path = join(stateDir, 'state.json.lease');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as LeaseFile) : undefined;
}

/** The last good revision in the state folder (undefined while there is none, or mid-write). */
export function readLastGood(stateDir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { lastGood?: { revision: string } })
      .lastGood?.revision;
  } catch {
    return undefined;
  }
}
