import { generateKeyPairSync } from 'node:crypto';
import { importSPKI, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { accessToken, CredentialsError, parseServiceAccountKey } from './google-auth.ts';

// Token minting from a service-account key, with the clock given explicitly.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const key = parseServiceAccountKey(
  JSON.stringify({
    client_email: 'w@p.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    private_key_id: 'k1',
  }),
  'GCP_SERVICE_ACCOUNT_KEY',
);
const AUD = 'https://firestore.googleapis.com/';

describe('service-account tokens', () => {
  it('signs an RS256 JWT Google verifies: issuer, audience, an hour of life', async () => {
    const token = await accessToken(key, AUD, 1_000_000);
    const { payload, protectedHeader } = await jwtVerify(
      token,
      await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'RS256'),
      {
        audience: AUD,
        currentDate: new Date(1_000_100_000),
      },
    );
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: 'k1' });
    expect(payload).toMatchObject({
      iss: 'w@p.iam.gserviceaccount.com',
      sub: 'w@p.iam.gserviceaccount.com',
      iat: 1_000_000,
      exp: 1_003_600,
    });
  });

  it('is cached until five minutes before it expires, then renewed', async () => {
    const first = await accessToken(key, AUD, 2_000_000);
    expect(await accessToken(key, AUD, 2_000_000 + 3000)).toBe(first);
    expect(await accessToken(key, AUD, 2_000_000 + 3301)).not.toBe(first);
  });

  const broken: [string, string | undefined, string][] = [
    ['missing', undefined, 'GCP_SERVICE_ACCOUNT_KEY is not set'],
    ['not JSON', 'whsec_nope', 'is not JSON'],
    ['without its private key', '{"client_email":"a@b"}', 'private_key is missing'],
  ];
  for (const [why, value, message] of broken) {
    it(`a key ${why} is a configuration error naming the secret`, () => {
      expect(() => parseServiceAccountKey(value, 'GCP_SERVICE_ACCOUNT_KEY')).toThrow(CredentialsError);
      expect(() => parseServiceAccountKey(value, 'GCP_SERVICE_ACCOUNT_KEY')).toThrow(message);
    });
  }
});
