/**
 * `npm test`: brings up what the tests need (a Docker Engine in swarm mode with the test images),
 * runs the whole vitest suite, and stops only the daemon it started.
 * Extra arguments go to vitest (`npm test -- providers/swarm`).
 */
import { spawnSync } from 'node:child_process';
import { ensureLocalSwarm } from './local-swarm.ts';

const swarm = await ensureLocalSwarm();
console.log(
  `test: Docker Engine in swarm mode at ${swarm.dockerHost}${swarm.started ? ' (started for this run)' : ''}`,
);
let status = 1;
try {
  const result = spawnSync('npx', ['vitest', 'run', ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, DOCKER_HOST: swarm.dockerHost, METADATA_SERVER_DETECTION: 'none' },
  });
  status = result.status ?? 1;
} finally {
  await swarm.stop();
}
process.exit(status);
