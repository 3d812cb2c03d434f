// keelson's backup function (Cloud Functions v2, HTTP): see README.md.
//   POST /        the Cloud Scheduler job (OIDC token) starts the day's backup run
//   POST /report  the backup server reports its outcome (one-time run token)
import functions from '@google-cloud/functions-framework';
import { backupApp, log } from './src/app.ts';

functions.http('backup', async (req, res) => {
  try {
    const app = await backupApp();
    const outcome = await app.handle({ method: req.method, path: req.path, headers: req.headers, body: req.body });
    res.status(outcome.status).json(outcome.body);
  } catch (e) {
    const message = (e as Error).message;
    log({ severity: 'ERROR', message: `backup function: ${message}` });
    res.status(500).json({ error: message });
  }
});
