import { describe, expect, it } from 'vitest';
import { gcpLabelValue, isOwnedBy, ownershipLabels, userLabels } from '../ownership.ts';
import { GcpClients } from './clients.ts';
import { readGcpConfig } from './config.ts';
import { readFailure, Status, toKeelsonError } from './errors.ts';

describe('the Google Cloud configuration', () => {
  it('is unavailable without GCP_PROJECT_ID, with a sentence saying so', () => {
    expect(readGcpConfig({})).toEqual({ unavailable: 'GCP_PROJECT_ID is not set' });
  });

  it('uses a static token, the endpoint and the region given, and never shows the token', () => {
    const config = readGcpConfig({
      GCP_PROJECT_ID: 'p',
      GCP_REGION: 'europe-west1',
      GCP_API_ENDPOINT: 'http://127.0.0.1:9999',
      GCP_ACCESS_TOKEN: 'very-secret-token',
    });
    if ('unavailable' in config) throw new Error(config.unavailable);
    expect(config.region).toBe('europe-west1');
    expect(config.endpoint?.port).toBe('9999');
    expect(config.credentials.type).toBe('token');
    expect(JSON.stringify(config)).not.toContain('very-secret-token');
  });

  it('never lets the Google libraries probe the metadata server when an endpoint or a token is given', () => {
    delete process.env.METADATA_SERVER_DETECTION;
    const config = readGcpConfig({
      GCP_PROJECT_ID: 'p',
      GCP_API_ENDPOINT: 'http://127.0.0.1:1',
      GCP_ACCESS_TOKEN: 't',
    });
    if ('unavailable' in config) throw new Error(config.unavailable);
    new GcpClients(config);
    expect(process.env.METADATA_SERVER_DETECTION).toBe('none');
  });

  it('says which key file is missing, and falls back to Application Default Credentials', () => {
    expect(readGcpConfig({ GCP_PROJECT_ID: 'p', GOOGLE_APPLICATION_CREDENTIALS: '/nope.json' })).toEqual({
      unavailable: 'GOOGLE_APPLICATION_CREDENTIALS /nope.json does not exist',
    });
    const adc = readGcpConfig({ GCP_PROJECT_ID: 'p' });
    expect('unavailable' in adc ? adc : adc.credentials.type).toBe('adc');
    expect('unavailable' in adc ? adc : adc.region).toBe('europe-west3');
  });
});

describe('GCP ownership labels', () => {
  it('fit GCP label rules: lowercase keys and values, at most 63 characters', () => {
    const labels = ownershipLabels({ team: 'ops', 'keelson-owner': 'spoofed' }, 'Keelson/Prod', true);
    for (const [k, v] of Object.entries(labels)) {
      expect(k).toMatch(/^[a-z][a-z0-9_-]{0,62}$/);
      expect(v).toMatch(/^[a-z0-9_-]{0,63}$/);
    }
    expect(labels['keelson-owner']).toBe(gcpLabelValue('Keelson/Prod'));
    expect(isOwnedBy(labels, 'Keelson/Prod')).toBe(true);
    expect(isOwnedBy(labels, 'other')).toBe(false);
    expect(userLabels(labels)).toEqual({ team: 'ops' });
    expect(gcpLabelValue('keelson-test')).toBe('keelson-test');
  });
});

describe('Google client errors', () => {
  it('read the current client shape: gRPC code and decoded RetryInfo', () => {
    const e = Object.assign(new Error('8 RESOURCE_EXHAUSTED: quota'), {
      code: 8,
      httpStatusCode: 429,
      statusDetails: [{ retryDelay: { seconds: '2', nanos: 500_000_000 } }],
    });
    expect(readFailure(e)).toMatchObject({
      status: Status.RESOURCE_EXHAUSTED,
      httpStatus: 429,
      message: 'quota',
      retryDelayMs: 2500,
    });
    const k = toKeelsonError(e, 'list topics');
    expect(k.code).toBe('RATE_LIMITED');
    expect(k.retryAfterMs).toBe(2500);
    expect(k.message).toBe('cannot list topics: quota (RESOURCE_EXHAUSTED)');
  });

  it("read the older clients' shape: HTTP status in code, the JSON body in the message", () => {
    const body = { error: { code: 404, status: 'NOT_FOUND', message: 'no such service', details: [] } };
    const e = Object.assign(new Error(JSON.stringify(body)), { code: 404 });
    expect(readFailure(e)).toMatchObject({ status: Status.NOT_FOUND, httpStatus: 404, message: 'no such service' });
    expect(toKeelsonError(e, 'x').code).toBe('NOT_FOUND');
  });

  it('classify: permission → unavailable, invalid → invalid spec, no answer → transient', () => {
    expect(toKeelsonError(Object.assign(new Error('denied'), { code: 7 }), 'x')).toMatchObject({
      code: 'UNAVAILABLE',
      class: 'terminal',
    });
    expect(toKeelsonError(Object.assign(new Error('bad'), { code: 3 }), 'x')).toMatchObject({
      code: 'INVALID_SPEC',
      class: 'terminal',
    });
    expect(toKeelsonError(new Error('socket hang up'), 'x')).toMatchObject({ code: 'API_ERROR', class: 'transient' });
  });
});
