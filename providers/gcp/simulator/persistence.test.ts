import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { gcpSimulatorEntry } from './index.ts';
import { startGcpSimulator } from './server.ts';
import { clientOptions, google } from './test-clients.ts';

describe('statePath: the state survives a restart', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gcp-sim-state-'));
  const statePath = join(dir, 'gcp.json');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps resources, documents, signing key and running functions; refuses a corrupt file by name', async () => {
    const first = await startGcpSimulator({ statePath });
    const P = first.projectId;
    const parent = `projects/${P}/locations/${first.region}`;
    const h = { authorization: `Bearer ${first.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' };
    await fetch(`${first.url}/v1/projects/${P}/topics/kept`, { method: 'PUT', headers: h, body: '{}' });
    await fetch(`${first.url}/v1/projects/${P}/databases/(default)/documents/notes/n1`, {
      method: 'PATCH',
      headers: h,
      body: JSON.stringify({ fields: { t: { stringValue: 'kept' } } }),
    });
    const fns = new (google.functions().v2.FunctionServiceClient)(clientOptions(first));
    const [upload] = await fns.generateUploadUrl({ parent });
    const zip = zipSync({
      'package.json': new TextEncoder().encode('{"main":"index.js"}'),
      'index.js': new TextEncoder().encode(
        `require('@google-cloud/functions-framework').http('hi', (req, res) => res.send('hi ' + process.env.WHO));`,
      ),
    });
    await fetch(upload.uploadUrl!, { method: 'PUT', headers: { 'content-type': 'application/zip' }, body: zip });
    const [op] = await fns.createFunction({
      parent,
      functionId: 'hi',
      function: {
        buildConfig: { runtime: 'nodejs22', entryPoint: 'hi', source: { storageSource: upload.storageSource } },
        serviceConfig: { environmentVariables: { WHO: 'there' } },
      },
    });
    await op.promise();
    await fns.setIamPolicy({
      resource: `${parent}/functions/hi`,
      policy: { bindings: [{ role: 'roles/cloudfunctions.invoker', members: ['allUsers'] }] },
    } as unknown as Parameters<typeof fns.setIamPolicy>[0]);
    const jwks = await (await fetch(first.env.GCP_OIDC_JWKS_URL!)).json();
    await fetch(`${first.url}/v1/projects/${P}/serviceAccounts`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ accountId: 'caller' }),
    });
    await fetch(`${first.url}/v1/${parent}/jobs`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({
        name: `${parent}/jobs/call-hi`,
        schedule: '0 3 * * *',
        httpTarget: {
          uri: `${first.url}/cloudfunctions/${P}/${first.region}/hi`,
          oidcToken: { serviceAccountEmail: `caller@${P}.iam.gserviceaccount.com` },
        },
      }),
    });
    await first.close();

    const second = await gcpSimulatorEntry.start({ statePath });
    try {
      const env = second.env;
      const h2 = { authorization: `Bearer ${env.GCP_ACCESS_TOKEN}` };
      expect((await fetch(`${env.GCP_API_ENDPOINT}/v1/projects/${P}/topics/kept`, { headers: h2 })).status).toBe(200);
      const doc = (await (
        await fetch(`${env.GCP_API_ENDPOINT}/v1/projects/${P}/databases/(default)/documents/notes/n1`, { headers: h2 })
      ).json()) as {
        fields: { t: { stringValue: string } };
      };
      expect(doc.fields.t.stringValue).toBe('kept');
      expect(await (await fetch(env.GCP_OIDC_JWKS_URL!)).json()).toEqual(jwks);
      const fn = (await (await fetch(`${env.GCP_API_ENDPOINT}/v2/${parent}/functions/hi`, { headers: h2 })).json()) as {
        url: string;
        state: string;
      };
      expect(fn.state).toBe('ACTIVE');
      expect(fn.url.startsWith(env.GCP_API_ENDPOINT!)).toBe(true);
      expect(await (await fetch(fn.url)).text()).toBe('hi there');
      const job = (await (
        await fetch(`${env.GCP_API_ENDPOINT}/v1/${parent}/jobs/call-hi`, { headers: h2 })
      ).json()) as {
        httpTarget: { uri: string };
      };
      expect(job.httpTarget.uri).toBe(fn.url);
    } finally {
      await second.close();
    }
    expect(JSON.parse(readFileSync(statePath, 'utf8')).version).toBe(1);
    expect(statSync(statePath).mode & 0o077).toBe(0);
    writeFileSync(statePath, '{not json');
    await expect(startGcpSimulator({ statePath })).rejects.toThrow(
      `cannot load the GCP simulator state from ${statePath}`,
    );
  });
});
