import { parseArgs } from 'node:util';
import pino from 'pino';
import { errorMessage, type RunningSimulator, type SimulatorEntry } from '../../providers/sdk/index.ts';

const providers = ['hetzner', 'cloudflare', 'gcp'] as const;

async function entryFor(provider: string): Promise<SimulatorEntry> {
  switch (provider) {
    case 'hetzner':
      return (await import('../../providers/hetzner/simulator/entry.ts')).hetznerSimulatorEntry;
    case 'cloudflare':
      return (await import('../../providers/cloudflare/simulator/entry.ts')).cloudflareSimulatorEntry;
    case 'gcp': {
      // The Google Cloud simulator comes from its own branch; this build may not have it.
      const url = new URL('../../providers/gcp/simulator/index.ts', import.meta.url);
      let entry: SimulatorEntry | undefined;
      try {
        entry = ((await import(url.href)) as { gcpSimulatorEntry?: SimulatorEntry }).gcpSimulatorEntry;
      } catch (error) {
        // Only a missing module means "not in this build"; a broken one is reported as it is.
        const code = (error as { code?: string }).code;
        if (code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes(url.pathname)) throw error;
      }
      if (!entry) throw new Error('the gcp simulator is not in this build');
      return entry;
    }
    default:
      throw new Error(`unknown simulator "${provider}"; choose one of ${providers.join(', ')}`);
  }
}

/**
 * `keelson simulate PROVIDER [--port N] [--state FILE]`: runs one simulator on loopback until SIGINT or
 * SIGTERM. Prints the environment a client needs as `KEY=VALUE` lines on stdout (and nothing else
 * there), so `eval "$(keelson simulate hetzner | sed 's/^/export /')"`-style use and tests can read it.
 */
export async function simulateCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { port: { type: 'string' }, state: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const provider = positionals[0];
  if (!provider) throw new Error(`missing the simulator to run: keelson simulate ${providers.join('|')}`);
  if (positionals.length > 1) throw new Error(`unexpected argument "${positionals[1]}"; run "keelson help"`);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new Error(`--port ${values.port} is not a port number (0-65535)`);
  }
  // Listen before anything is printed: a client may stop us as soon as it has read the environment.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const log = pino({ level: process.env.KEELSON_LOG_LEVEL ?? 'info', base: undefined }, pino.destination(2));
  const entry = await entryFor(provider);
  let running: RunningSimulator;
  try {
    running = await entry.start({
      ...(port === undefined ? {} : { port }),
      ...(values.state === undefined ? {} : { statePath: values.state }),
      log,
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'EADDRINUSE')
      throw new Error(`port ${port} on 127.0.0.1 is in use; pick another --port (or leave it out for a free one)`);
    throw error;
  }
  for (const [key, value] of Object.entries(running.env)) process.stdout.write(`${key}=${value}\n`);
  process.stderr.write(
    `keelson: the ${provider} simulator is running on loopback${values.state ? `, state in ${values.state}` : ' (state is lost on exit: --state FILE keeps it)'}; stop it with Ctrl-C\n`,
  );
  const signal = await stopped;
  try {
    await running.close();
  } catch (error) {
    process.stderr.write(`keelson: stopping the ${provider} simulator: ${errorMessage(error)}\n`);
    return 1;
  }
  process.stderr.write(`keelson: the ${provider} simulator stopped (${signal})\n`);
  return 0;
}
