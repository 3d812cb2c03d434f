import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

function capture(isTTY: boolean) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  stream.isTTY = isTTY;
  const lines: string[] = [];
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  return { stream, lines };
}
const flush = () => new Promise((r) => setImmediate(r));

describe('createLogger', () => {
  const saved = process.env.KEELSON_LOG_FORMAT;
  afterEach(() => {
    if (saved === undefined) delete process.env.KEELSON_LOG_FORMAT;
    else process.env.KEELSON_LOG_FORMAT = saved;
  });

  it('writes readable lines on a terminal', async () => {
    delete process.env.KEELSON_LOG_FORMAT;
    const { stream, lines } = capture(true);
    const log = createLogger('info', stream, { color: false });
    log.info(
      { revision: '8e6ea7ac4a3828df97c889c740b0c808d7000445', resource: 'swarm.Service/web', running: 1 },
      'updated service',
    );
    await flush();
    expect(lines).toEqual([
      expect.stringMatching(
        /^\d\d:\d\d:\d\d INFO {2}updated service revision=8e6ea7ac4a38 resource=swarm\.Service\/web running=1$/,
      ),
    ]);
  });

  it('writes JSON when the output is not a terminal, or when KEELSON_LOG_FORMAT=json asks for it', async () => {
    delete process.env.KEELSON_LOG_FORMAT;
    const pipe = capture(false);
    createLogger('info', pipe.stream).warn({ resource: 'x' }, 'drift detected');
    process.env.KEELSON_LOG_FORMAT = 'json';
    const tty = capture(true);
    createLogger('info', tty.stream).warn({ resource: 'x' }, 'drift detected');
    await flush();
    for (const lines of [pipe.lines, tty.lines])
      expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 40, msg: 'drift detected', resource: 'x' });
  });

  it('names a diagnostic from the repository root, and still censors secrets', async () => {
    const { stream, lines } = capture(true);
    const log = createLogger('info', stream, { format: 'pretty', color: false, sourcePath: 'desired-state' });
    log.warn(
      { file: 'swarm/demo.yaml', code: 'unknown-field' },
      'swarm/demo.yaml:10:15: error[unknown-field] spec.replica',
    );
    log.info({ token: 'hunter2' }, 'configured');
    await flush();
    expect(lines[0]).toMatch(
      /WARN {2}desired-state\/swarm\/demo\.yaml:10:15: error\[unknown-field\] spec\.replica code=unknown-field$/,
    );
    expect(lines[1]).toContain('token=(sensitive)');
    expect(lines.join('\n')).not.toContain('hunter2');
  });
});
