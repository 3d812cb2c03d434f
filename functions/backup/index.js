// PLACEHOLDER: the backup flow issue replaces this file with the real daily backup function.
// Until then it answers 501, so a scheduled run is visibly "not implemented" rather than silently fine.
import functions from '@google-cloud/functions-framework';

functions.http('backup', (_req, res) => {
  res.status(501).json({ error: 'backup is a placeholder; the backup flow issue replaces it' });
});
