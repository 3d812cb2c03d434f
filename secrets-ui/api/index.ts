import type { IncomingMessage, ServerResponse } from 'node:http';
import { secretsUiFromEnv } from '../server.ts';

/**
 * The Vercel Function: every path is rewritten here (`vercel.json`) and handed to the Fastify app,
 * which is built once per function instance from the project's environment variables.
 */
let app: ReturnType<typeof secretsUiFromEnv> | undefined;

export default async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  app ??= secretsUiFromEnv();
  await app.ready();
  app.server.emit('request', req, res);
}
