import { describe, expect, it } from 'vitest';
import { markComment, parseComment } from '../ownership.ts';
import { dnsReplaceOrder, fullName, normalizeDnsRecord } from './dns-record.ts';

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

describe('the order of a DNS record replacement (dnsReplaceOrder)', () => {
  // Why: a CNAME may not share its name with any other record (RFC 1034 §3.6.2, Cloudflare code
  // 81053), so only then must the old record go first; any other new type or zone can be created
  // beside the old record, and the name keeps resolving.
  const rows: readonly [string, Record<string, unknown>, Record<string, unknown>, 'create-first' | 'delete-first'][] = [
    [
      'A -> AAAA, one name',
      { zone: 'example.com', name: 'www.example.com', type: 'A' },
      { zone: 'example.com', name: 'www', type: 'AAAA' },
      'create-first',
    ],
    [
      'A -> TXT, one name',
      { zone: 'example.com', name: 'www.example.com', type: 'A' },
      { zone: 'example.com', name: 'www.example.com', type: 'TXT' },
      'create-first',
    ],
    [
      'A -> CNAME, one name',
      { zone: 'example.com', name: 'www.example.com', type: 'A' },
      { zone: 'example.com', name: 'www', type: 'CNAME' },
      'delete-first',
    ],
    [
      'CNAME -> A, one name',
      { zone: 'example.com', name: 'www.example.com', type: 'CNAME' },
      { zone: 'example.com', name: 'WWW.example.com.', type: 'A' },
      'delete-first',
    ],
    [
      'A -> CNAME, another name',
      { zone: 'example.com', name: 'www.example.com', type: 'A' },
      { zone: 'example.com', name: 'web', type: 'CNAME' },
      'create-first',
    ],
    [
      'CNAME moved to another zone',
      { zone: 'example.com', name: 'www.example.com', type: 'CNAME' },
      { zone: 'example.org', name: 'www', type: 'CNAME' },
      'create-first',
    ],
    [
      'apex A -> apex CNAME',
      { zone: 'example.com', name: 'example.com', type: 'A' },
      { zone: 'example.com', name: '@', type: 'CNAME' },
      'delete-first',
    ],
  ];
  for (const [what, before, after, order] of rows) {
    it(`${what}: ${order}`, () => {
      const decision = dnsReplaceOrder(before, after);
      expect(decision.order).toBe(order);
      expect(decision.why.length).toBeGreaterThan(10);
    });
  }
});
