import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '.tools/**', '.keelson/**', '.cache/**'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Tests that share the local Swarm or a simulator port must not race each other.
    fileParallelism: true,
    maxWorkers: 2,
    env: { METADATA_SERVER_DETECTION: 'none' },
    // No test may reach anything but loopback: a connection elsewhere is refused and fails the file.
    setupFiles: ['test/support/loopback-guard.ts'],
  },
});
