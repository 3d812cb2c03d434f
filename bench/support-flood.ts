/**
 * The flood of bench/http-flood.ts, in its own process (its client work must not share the
 * daemon's event loop): CLIENTS concurrent clients each make REQUESTS GETs of /metrics (one in ten
 * of /status) against BASE, then print the answers' status counts as JSON. Loopback only.
 */
import { Agent } from 'undici';

const [base, clients, requests] = [process.argv[2] ?? '', Number(process.argv[3]), Number(process.argv[4])];
if (!base.startsWith('http://127.0.0.1:')) throw new Error('support-flood: loopback base URL expected');
const agent = new Agent({ connections: null, pipelining: 1 });
const statuses: Record<string, number> = {};
await Promise.all(
  Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; i < requests; i++) {
      let status = 0;
      try {
        const res = await fetch(`${base}${c % 10 === 0 ? '/status' : '/metrics'}`, {
          dispatcher: agent,
        } as RequestInit);
        await res.arrayBuffer();
        status = res.status;
      } catch {}
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }),
);
await agent.close();
console.log(JSON.stringify(statuses));
