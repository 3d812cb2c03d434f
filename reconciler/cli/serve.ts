import { errorMessage } from '../../providers/sdk/index.ts';
import { Daemon, type DaemonOverrides } from '../app/daemon.ts';
import { formatConfigProblems, loadConfig } from '../config/load-config.ts';
import { createLogger } from '../observability/logger.ts';

/** `keelson serve [--config FILE]`: runs until SIGTERM/SIGINT. Exit 0 after a clean stop, 2 on a bad configuration. */
export async function serveCommand(argv: string[], overrides: DaemonOverrides = {}): Promise<number> {
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--config' || arg === '-c') file = argv[++i];
    else if (arg?.startsWith('--config=')) file = arg.slice('--config='.length);
    else {
      process.stderr.write(`keelson serve: unknown argument ${arg}\nusage: keelson serve [--config FILE]\n`);
      return 2;
    }
  }
  const loaded = loadConfig({ ...(file !== undefined ? { file } : {}), env: process.env, cwd: process.cwd() });
  if (!loaded.ok) {
    process.stderr.write(
      `keelson serve: the configuration has ${loaded.problems.length} problem(s):\n${formatConfigProblems(loaded.problems)}\n`,
    );
    return 2;
  }
  const log = createLogger(loaded.config.logLevel);
  let daemon: Daemon;
  try {
    daemon = new Daemon(loaded.config, log, overrides);
    await daemon.start();
  } catch (error) {
    log.error({ err: errorMessage(error) }, 'cannot start keelson');
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'signal received');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      daemon.stop().then(resolve, (error) => {
        log.error({ err: errorMessage(error) }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}
