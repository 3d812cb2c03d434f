/**
 * Debian's restic backing up a tree to an S3 server on loopback (standing in for R2), through
 * functions/backup/server/backup.sh as the backup server runs it: a first run and a no-change run.
 * Figures: wall time, what restic says it added, and the bytes that actually went over the wire to S3
 * (counted by a TCP relay in front of the server).
 *
 *   npm run bench -- backup-restic
 *   BENCH_BACKUP_BYTES=100000000 npm run bench -- backup-restic    (smaller; default 1 GB)
 *   BENCH_BACKUP_FILES=10000                                        (default)
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resticEnv, run as runProcess, SERVER_SCRIPTS, startReceiver, startS3 } from '../test/backup-support.ts';

export async function run(): Promise<void> {
  const totalBytes = Number(process.env.BENCH_BACKUP_BYTES ?? 1_000_000_000);
  const files = Number(process.env.BENCH_BACKUP_FILES ?? 10_000);
  const which = await runProcess('restic', ['version'], {});
  if (which.code !== 0) {
    console.log('restic is not installed (apt-get install -y restic): passed over');
    return;
  }
  const root = join(tmpdir(), `keelson-bench-backup-${process.pid}`);
  const src = join(root, 'filer');
  rmSync(root, { recursive: true, force: true });
  try {
    const per = Math.max(1, Math.floor(totalBytes / files));
    const t0 = performance.now();
    const made = new Set<string>();
    for (let i = 0; i < files; i++) {
      const dir = join(src, `volume-${i % 10}`, `d${Math.floor(i / 100)}`);
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      // Random bytes: neither compression nor deduplication can shrink the first run.
      writeFileSync(join(dir, `f${i}.bin`), randomBytes(per));
    }
    console.log(
      `generated ${files} files, ${((per * files) / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s under ${src}`,
    );

    const s3 = await startS3(join(root, 's3'));
    const relay = await countingRelay(Number(new URL(s3.url).port));
    const receiver = await startReceiver();
    try {
      const env = {
        ...resticEnv(`s3:http://127.0.0.1:${relay.port}/backups/bench`, join(root, 'cache')),
        BACKUP_RUN_TOKEN: 'bench',
        BACKUP_REPORT_URL: `${receiver.url}/report`,
        BACKUP_TYPE: 'daily',
        BACKUP_MOUNT: 'none',
        BACKUP_SOURCE: src,
        BACKUP_REPORT_ATTEMPTS: '1',
      };
      const rows: string[][] = [['run', 'wall s', 'restic: added MB', 'sent to S3 MB', 'files']];
      for (const [label, runId] of [
        ['first (incl. init)', '2026-03-01'],
        ['no change', '2026-03-02'],
      ] as const) {
        relay.reset();
        const start = performance.now();
        const result = await runProcess(join(SERVER_SCRIPTS, 'backup.sh'), [], { ...env, BACKUP_RUN_ID: runId });
        const seconds = (performance.now() - start) / 1000;
        if (result.code !== 0) throw new Error(`backup.sh failed: ${result.stderr}`);
        const report = JSON.parse(receiver.received.at(-1)?.body ?? '{}') as { bytesAdded?: number; files?: number };
        rows.push([
          label,
          seconds.toFixed(1),
          ((report.bytesAdded ?? 0) / 1e6).toFixed(1),
          (relay.sent() / 1e6).toFixed(1),
          String(report.files ?? '?'),
        ]);
      }
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows) console.log(r.map((v, c) => v.padStart(widths[c]!)).join('  '));
      console.log('(wall time includes forget --prune; loopback S3, 2 shared cores: compare runs, not machines)');
    } finally {
      await receiver.close();
      await relay.close();
      await s3.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A TCP relay that counts the bytes the client sends (request bodies: what a backup uploads). */
async function countingRelay(
  targetPort: number,
): Promise<{ port: number; sent(): number; reset(): void; close(): Promise<void> }> {
  let sent = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (b: Buffer) => {
      sent += b.length;
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('relay has no port');
  return {
    port: address.port,
    sent: () => sent,
    reset: () => {
      sent = 0;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
