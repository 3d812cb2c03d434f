/**
 * `npm run bench -- gcp-simulator`: what the Google Cloud simulator costs. Firestore document writes
 * and queries over REST, Pub/Sub publish + pull, a function's deploy until it serves, and the time
 * from a Firestore write to the deployed function having handled its event. Prints figures only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { startGcpSimulator } from '../providers/gcp/simulator/index.ts';

const probeDir = join(import.meta.dirname, '../providers/gcp/simulator/testdata/probe-function');

function ms(t0: number): number {
  return Math.round((performance.now() - t0) * 10) / 10;
}

export async function run(): Promise<void> {
  const sim = await startGcpSimulator();
  try {
    const P = sim.projectId;
    const h = { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' };
    const docs = `${sim.url}/v1/projects/${P}/databases/(default)/documents`;

    const n = 1000;
    let t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await fetch(`${docs}/bench/d${i}`, {
        method: 'PATCH',
        headers: h,
        body: JSON.stringify({ fields: { i: { integerValue: String(i) }, s: { stringValue: `doc ${i}` } } }),
      });
    }
    const writeMs = ms(t0);
    console.log(
      `Firestore: ${n} document PATCHes one after another: ${writeMs} ms (${Math.round((n / writeMs) * 1000)}/s)`,
    );
    t0 = performance.now();
    for (let i = 0; i < 100; i++) {
      await fetch(`${docs}:runQuery`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({
          structuredQuery: {
            from: [{ collectionId: 'bench' }],
            where: {
              fieldFilter: { field: { fieldPath: 'i' }, op: 'GREATER_THAN_OR_EQUAL', value: { integerValue: '900' } },
            },
            limit: 50,
          },
        }),
      });
    }
    console.log(`Firestore: 100 runQuery over ${n} documents (range filter, limit 50): ${ms(t0)} ms`);

    await fetch(`${sim.url}/v1/projects/${P}/topics/bench`, { method: 'PUT', headers: h, body: '{}' });
    await fetch(`${sim.url}/v1/projects/${P}/subscriptions/bench-pull`, {
      method: 'PUT',
      headers: h,
      body: JSON.stringify({ topic: `projects/${P}/topics/bench` }),
    });
    t0 = performance.now();
    for (let i = 0; i < 100; i++) {
      const messages = Array.from({ length: 10 }, (_, j) => ({ data: Buffer.from(`m${i}-${j}`).toString('base64') }));
      await fetch(`${sim.url}/v1/projects/${P}/topics/bench:publish`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ messages }),
      });
    }
    let pulled = 0;
    while (pulled < 1000) {
      const r = (await (
        await fetch(`${sim.url}/v1/projects/${P}/subscriptions/bench-pull:pull`, {
          method: 'POST',
          headers: h,
          body: '{"maxMessages":100}',
        })
      ).json()) as {
        receivedMessages?: { ackId: string }[];
      };
      const got = r.receivedMessages ?? [];
      if (got.length === 0) break;
      pulled += got.length;
      await fetch(`${sim.url}/v1/projects/${P}/subscriptions/bench-pull:acknowledge`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ ackIds: got.map((m) => m.ackId) }),
      });
    }
    console.log(`Pub/Sub: 1,000 messages published (100 calls) and ${pulled} pulled + acked: ${ms(t0)} ms`);

    const files: Record<string, Uint8Array> = {};
    for (const f of readdirSync(probeDir)) files[f] = readFileSync(join(probeDir, f));
    const parent = `projects/${P}/locations/${sim.region}`;
    const upload = (await (
      await fetch(`${sim.url}/v2/${parent}/functions:generateUploadUrl`, { method: 'POST', headers: h, body: '{}' })
    ).json()) as {
      uploadUrl: string;
      storageSource: unknown;
    };
    await fetch(upload.uploadUrl, {
      method: 'PUT',
      headers: { 'content-type': 'application/zip' },
      body: zipSync(files),
    });
    t0 = performance.now();
    const op = (await (
      await fetch(`${sim.url}/v2/${parent}/functions?functionId=on-doc`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({
          buildConfig: {
            runtime: 'nodejs22',
            entryPoint: 'onDocument',
            source: { storageSource: upload.storageSource },
          },
          eventTrigger: {
            eventType: 'google.cloud.firestore.document.v1.written',
            eventFilters: [
              { attribute: 'database', value: '(default)' },
              { attribute: 'document', value: 'inbox/{id}', operator: 'match-path-pattern' },
            ],
          },
        }),
      })
    ).json()) as { name: string };
    await sim.settleOperations();
    const fn = (await (await fetch(`${sim.url}/v2/${parent}/functions/on-doc`, { headers: h })).json()) as {
      state: string;
    };
    console.log(
      `Functions: create until ${fn.state} (a Functions Framework process serving): ${ms(t0)} ms (operation ${op.name.split('/').at(-1)})`,
    );

    const latencies: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await fetch(`${docs}/inbox/e${i}`, {
        method: 'PATCH',
        headers: h,
        body: JSON.stringify({ fields: { text: { stringValue: `event ${i}` } } }),
      });
      await sim.idle();
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => Math.round(latencies[Math.floor((latencies.length - 1) * p)]! * 10) / 10;
    console.log(
      `Eventarc: Firestore write → function handled it (it writes a marker back): p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${pct(1)} ms over 50 writes`,
    );
    console.log(`requests answered: ${sim.requests.length}`);
  } finally {
    await sim.close();
  }
}

if (import.meta.main) await run();
