/**
 * The S3 buckets the applications keep files in (RocketChat's uploads, the Sync App's archive) are
 * created by the seaweedfs chart's one-shot `buckets` service (`weed shell` s3.bucket.create).
 * SeaweedFS's image cannot be pulled here, so the job's script runs under Debian's sh against a
 * stand-in `weed` that keeps buckets as folders and prints `s3.bucket.list` lines as SeaweedFS's
 * weed/shell/command_s3_bucket_list.go does ("  NAME\tsize:N\tchunk:N"); it checks the script's
 * logic (create what is missing, leave what exists, fail while the filer does not answer), not
 * SeaweedFS itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDesiredState } from '../reconciler/desired/load.ts';
import { builtinModules } from '../reconciler/providers/builtin.ts';
import { ProviderRegistry } from '../reconciler/providers/registry.ts';

const root = join(import.meta.dirname, '..');
const loaded = loadDesiredState(join(root, 'desired-state'), new ProviderRegistry(builtinModules), { root });
const spec = (key: string) => loaded.resources.find((r) => r.key === key)?.spec as Record<string, unknown>;
const env = (key: string) => (spec(key)?.env ?? {}) as Record<string, string>;
const job = spec('swarm.Service/seaweedfs_buckets') as {
  command: string[];
  args: string[];
  env: Record<string, string>;
  deploy: { restartPolicy: { condition: string } };
  networks: { name: string }[];
};

describe("SeaweedFS's buckets job", () => {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-buckets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // The stand-in `weed shell`: reads commands on stdin; FILER_DOWN makes every command fail as an
  // unreachable filer does (an error line, no listing).
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'buckets'));
  writeFileSync(
    join(dir, 'bin', 'weed'),
    `#!/bin/sh
[ "$1" = shell ] || exit 2
echo "$*" >> "${dir}/calls"
while read -r cmd arg name; do
  if [ -n "$FILER_DOWN" ]; then echo "error: filer filer:8888 unreachable" >&2; continue; fi
  case "$cmd" in
    s3.bucket.list) for b in $(ls "${dir}/buckets"); do printf '  %s\\tsize:0\\tchunk:0\\n' "$b"; done ;;
    s3.bucket.create) [ "$arg" = -name ] && mkdir "${dir}/buckets/$name" && echo "created bucket $name" ;;
  esac
done
`,
  );
  chmodSync(join(dir, 'bin', 'weed'), 0o755);
  const run = (extra: Record<string, string> = {}) => {
    const [shell, flag] = job.command as [string, string];
    return spawnSync(shell, [flag, job.args[0] as string], {
      env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, BUCKETS: job.env.BUCKETS, ...extra },
      encoding: 'utf8',
    });
  };

  it('creates every bucket an application stack keeps files in', () => {
    expect(loaded.diagnostics).toEqual([]);
    const used = [
      env('swarm.Service/rocketchat_rocketchat').OVERWRITE_SETTING_FileUpload_S3_Bucket,
      env('swarm.Service/sync-app_sync').S3_BUCKET,
    ];
    expect(used).toEqual(['rocketchat-uploads', 'knowledge-archive']);
    expect((job.env.BUCKETS ?? '').split(/\s+/)).toEqual(expect.arrayContaining(used));
    // ... on the S3 gateway of this stack's filer, on the storage network the job joins.
    expect(env('swarm.Service/rocketchat_rocketchat').OVERWRITE_SETTING_FileUpload_S3_BucketURL).toBe(
      'http://seaweedfs_filer:8333',
    );
    expect(job.networks.map((n) => n.name)).toEqual(['seaweedfs_storage']);
    // One-shot: a task that exits 0 is not started again.
    expect(job.deploy.restartPolicy.condition).toBe('on-failure');
  });

  it('its script parses', () => {
    execFileSync('sh', ['-n', '-c', job.args[0] as string]);
  });

  it('fails while the filer does not answer (Swarm restarts it), creates the buckets, then leaves them alone', () => {
    const down = run({ FILER_DOWN: '1' });
    expect(down.status).toBe(1);
    expect(down.stderr).toContain('bucket rocketchat-uploads not created');
    expect(readdirSync(join(dir, 'buckets'))).toEqual([]);

    const first = run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('bucket rocketchat-uploads created');
    expect(first.stdout).toContain('bucket knowledge-archive created');
    expect(readdirSync(join(dir, 'buckets')).sort()).toEqual(['knowledge-archive', 'rocketchat-uploads']);
    // weed shell pointed at the stack's master and filer.
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toContain('shell -master=master:9333 -filer=filer:8888');

    writeFileSync(join(dir, 'calls'), '');
    const again = run();
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('bucket rocketchat-uploads exists');
    // Only the two listings: nothing created again.
    expect(readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('a bucket whose name only starts like another one is still created', () => {
    rmSync(join(dir, 'buckets', 'knowledge-archive'), { recursive: true });
    mkdirSync(join(dir, 'buckets', 'knowledge-archive-old'));
    const result = run();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('bucket knowledge-archive created');
  });
});
