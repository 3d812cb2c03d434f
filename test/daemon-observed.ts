import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../reconciler/app/daemon.ts';
import { loadConfig } from '../reconciler/config/load-config.ts';
import { createLogger } from '../reconciler/observability/logger.ts';
import { editByHand, fileCloudModule } from './daemon-file-cloud.ts';
import { until } from './daemon-support.ts';

/**
 * A daemon in directory mode over the file cloud, with one service drifted by hand under
 * `observe` (so the drift stays): what the status page and Prometheus tests look at.
 */
export async function startDriftedDaemon(port = 0): Promise<{ daemon: Daemon; base: string; dir: string }> {
  const root = mkdtempSync(join(tmpdir(), 'keelson-observed-'));
  const dir = join(root, 'desired');
  mkdirSync(dir);
  const write = (policy: string) =>
    writeFileSync(
      join(dir, 'web.yaml'),
      `kind: file.Service\nname: web\npolicy: ${policy}\nspec:\n  image: keelson-test/busybox:1\n  replicas: 2\n---\nkind: file.Service\nname: api\nspec:\n  image: keelson-test/busybox:1\n`,
    );
  // Created under enforce (observe never creates), then switched to observe so the drift stays.
  write('enforce');
  const cloud = join(root, 'cloud.json');
  const loaded = loadConfig({
    env: {
      KEELSON_SOURCE_DIRECTORY: dir,
      KEELSON_STATE_PATH: join(root, 'state.json'),
      KEELSON_HTTP_HOST: '127.0.0.1',
      KEELSON_HTTP_PORT: String(port),
      KEELSON_POLL_INTERVAL_SECONDS: '3600',
      KEELSON_OWNER: 'keelson-observed',
      KEELSON_LOG_LEVEL: 'silent',
    },
    cwd: root,
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const daemon = new Daemon(loaded.config, createLogger('silent'), { modules: [fileCloudModule(cloud)], env: {} });
  const base = (await daemon.start()).replace('0.0.0.0', '127.0.0.1');
  await until(() => daemon.status.data.passes >= 1, 'the first pass');
  write('observe');
  editByHand(cloud, 'web', { replicas: 5 });
  const before = daemon.status.data.passes;
  daemon.trigger('manual');
  await until(
    () => daemon.status.data.passes > before && daemon.status.data.drifted.length > 0,
    'the drift to be seen',
  );
  return { daemon, base, dir };
}
