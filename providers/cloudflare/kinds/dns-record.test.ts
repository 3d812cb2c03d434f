import { describe, expect, it } from 'vitest';
import { markComment, parseComment } from '../ownership.ts';
import { fullName, normalizeDnsRecord } from './dns-record.ts';

describe('DNS record normalisation (so a converged record plans as no-op)', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['@ is the apex', { zone: 'example.com', name: '@' }, { name: 'example.com' }],
    ['a relative name gets the zone', { zone: 'example.com', name: 'API' }, { name: 'api.example.com' }],
    [
      'a full name stays, without its trailing dot',
      { zone: 'Example.com.', name: 'api.example.com.' },
      { zone: 'example.com', name: 'api.example.com' },
    ],
    [
      'a proxied record always has automatic TTL (1)',
      { zone: 'example.com', name: 'a', proxied: true, ttl: 300 },
      { ttl: 1 },
    ],
    ['an unproxied TTL is kept', { zone: 'example.com', name: 'a', proxied: false, ttl: 300 }, { ttl: 300 }],
    [
      'CNAME targets are lower-cased without trailing dot',
      { zone: 'example.com', name: 'w', type: 'CNAME', content: 'Example.COM.' },
      { content: 'example.com' },
    ],
    [
      'AAAA content is put in RFC 5952 form, as Cloudflare stores it',
      { zone: 'example.com', name: 'v6', type: 'AAAA', content: '2001:DB8:0:0:0:0:0:1' },
      { content: '2001:db8::1' },
    ],
    [
      'TXT content is left exactly as written',
      { zone: 'example.com', name: 't', type: 'TXT', content: 'Hello.' },
      { content: 'Hello.' },
    ],
  ];
  for (const [why, spec, expected] of cases) {
    it(why, () => {
      expect(normalizeDnsRecord(spec)).toMatchObject(expected);
    });
  }

  it('fullName does not take a longer zone suffix for the zone', () => {
    expect(fullName('notexample.com', 'example.com')).toBe('notexample.com.example.com');
  });
});

describe('ownership comment marker', () => {
  it('round-trips with and without a user comment', () => {
    expect(parseComment(markComment('Hooks only', 'k1', 'hooks'))).toEqual({
      user: 'Hooks only',
      owner: 'k1',
      name: 'hooks',
    });
    expect(parseComment(markComment(undefined, 'k1', 'hooks'))).toEqual({ user: '', owner: 'k1', name: 'hooks' });
  });

  it('a comment without the marker belongs to nobody', () => {
    expect(parseComment('made by hand [keelson')).toEqual({ user: 'made by hand [keelson' });
    expect(parseComment(null)).toEqual({ user: '' });
  });
});
