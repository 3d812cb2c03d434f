// `keelson serve` in a child process, with the file-backed fake cloud as its only provider, so a
// test can kill -9 it in the middle of an apply and start it again on the same state.
import { serveCommand } from '../reconciler/cli/serve.ts';
import { fileCloudModule } from './daemon-file-cloud.ts';

const cloud = process.env.FILE_CLOUD;
if (!cloud) throw new Error('FILE_CLOUD is not set');
process.exitCode = await serveCommand(process.argv.slice(2), {
  modules: [
    fileCloudModule(cloud, {
      createDelayMs: Number(process.env.FILE_CLOUD_CREATE_DELAY_MS ?? 0),
      ...(process.env.FILE_CLOUD_HOLD ? { hold: process.env.FILE_CLOUD_HOLD } : {}),
      ...(process.env.FILE_CLOUD_ENGINE ? { engine: process.env.FILE_CLOUD_ENGINE } : {}),
    }),
  ],
  env: {},
});
