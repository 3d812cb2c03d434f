// The mount step on its own (functions/backup/server/mount-filer.sh): it starts `weed mount`, waits for
// the mount, and refuses a mount that is writable. SeaweedFS cannot run here, so `weed` is a stand-in
// that bind-mounts a directory (read-only, or writable to prove the refusal) inside a private mount
// namespace; the script's own steps run unchanged.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, SERVER_SCRIPTS, tempDir } from './backup-support.ts';

describe('mount-filer.sh', () => {
  const tmp = tempDir('keelson-backup-mount-');
  const filer = join(tmp.dir, 'filer');
  const bin = join(tmp.dir, 'bin');

  /** A `weed` stand-in: `mode` ro (what weed mount -readOnly gives), rw, or fail. */
  function weed(mode: 'ro' | 'rw' | 'fail' | 'slow'): string {
    const file = join(bin, `weed-${mode}`);
    const mount =
      mode === 'fail'
        ? 'echo "connect to filer 10.0.1.2:8888: connection refused" >&2; exit 1'
        : // Read-only before it appears at the mount point, as with weed's -readOnly: staged, then moved.
          `${mode === 'slow' ? 'sleep 1; ' : ''}stage="$(mktemp -d "$(dirname "$dir")/.weed-stage.XXXXXX")"; mount --bind ${JSON.stringify(filer)} "$stage"${
            mode === 'rw' ? '' : ' && mount -o remount,bind,ro "$stage"'
          } && mount --move "$stage" "$dir"`;
    writeFileSync(
      file,
      `#!/bin/sh
dir=""; ro=no
for a in "$@"; do case "$a" in -dir=*) dir="\${a#-dir=}" ;; -readOnly) ro=yes ;; esac; done
[ "$1" = mount ] && [ "$ro" = yes ] || { echo "expected: weed mount -readOnly -dir=..." >&2; exit 2; }
${mount}
`,
    );
    chmodSync(file, 0o755);
    return file;
  }

  /** Runs the script in a private mount namespace, then lists what is visible at the mount point. */
  const mountWith = (weedBin: string, env: Record<string, string> = {}) =>
    run(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        '"$0" "$1" && ls "$1"',
        join(SERVER_SCRIPTS, 'mount-filer.sh'),
        join(tmp.dir, 'mnt', 'seaweedfs'),
      ],
      { SEAWEEDFS_FILER: '10.0.1.2:8888', WEED: weedBin, ...env },
    );

  beforeAll(() => {
    mkdirSync(join(filer, 'volume-a'), { recursive: true });
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(filer, 'volume-a', 'x'), 'x');
  });
  afterAll(() => tmp.remove());

  it('mounts the filer read-only and waits until the mount is there', async () => {
    const r = await mountWith(weed('slow'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('volume-a');
    expect(r.stderr).toContain('mounted the filer 10.0.1.2:8888 read-only');
  });

  it('refuses a writable mount: a backup must not be able to change what it backs up', async () => {
    const r = await mountWith(weed('rw'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('it is writable');
  });

  it('reports why weed mount failed', async () => {
    const r = await mountWith(weed('fail'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('weed mount exited: connect to filer 10.0.1.2:8888: connection refused');
  });

  it('gives up after its wait when nothing is mounted', async () => {
    const never = join(bin, 'weed-never');
    writeFileSync(never, '#!/bin/sh\nexec sleep 30\n'); // killed by the script when it gives up
    chmodSync(never, 0o755);
    const r = await mountWith(never, { SEAWEEDFS_MOUNT_WAIT: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not mounted after 1 s');
  });

  it('needs the filer address', async () => {
    const r = await mountWith(weed('ro'), { SEAWEEDFS_FILER: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SEAWEEDFS_FILER (host:port) is not set');
  });
});
