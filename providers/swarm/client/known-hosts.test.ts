import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownHostKeys } from './known-hosts.ts';

const A = 'AAAAC3NzaC1lZDI1NTE5AAAAIE1pVSljj+2MAB+EBf2k6i7paWEFqZKOmVbLm1F44qea';
const B = 'AAAAC3NzaC1lZDI1NTE5AAAAIPhqBbZM+f7WGAMEKnACgEvwEuil3TamvqSPRxrJz5wE';

describe('knownHostKeys', () => {
  const cases: { why: string; text: string; host: string; port?: number; keys: string[] }[] = [
    { why: 'a plain name on port 22', text: `203.0.113.7 ssh-ed25519 ${A}\n`, host: '203.0.113.7', keys: [A] },
    {
      why: 'another port is written [host]:port, and the bare name does not match it',
      text: `203.0.113.7 ssh-ed25519 ${A}\n[203.0.113.7]:2222 ssh-ed25519 ${B}\n`,
      host: '203.0.113.7',
      port: 2222,
      keys: [B],
    },
    {
      why: 'a list of names, comments and blank lines',
      text: `# the nodes\n\nswarm-1,203.0.113.7 ssh-ed25519 ${A} admin@x\n`,
      host: '203.0.113.7',
      keys: [A],
    },
    {
      why: 'a wildcard, unless a negation names the host',
      text: `203.0.113.* ssh-ed25519 ${A}\n203.0.113.*,!203.0.113.9 ssh-ed25519 ${B}\n`,
      host: '203.0.113.9',
      keys: [A],
    },
    {
      why: 'a revoked key is never accepted, even when listed',
      text: `203.0.113.7 ssh-ed25519 ${A}\n@revoked 203.0.113.7 ssh-ed25519 ${A}\n`,
      host: '203.0.113.7',
      keys: [],
    },
    {
      why: 'a certificate authority is not a host key',
      text: `@cert-authority *.example.com ssh-ed25519 ${A}\n`,
      host: 'node.example.com',
      keys: [],
    },
    { why: 'another host', text: `203.0.113.8 ssh-ed25519 ${A}\n`, host: '203.0.113.7', keys: [] },
  ];
  for (const c of cases) it(c.why, () => expect([...knownHostKeys(c.text, c.host, c.port)]).toEqual(c.keys));

  it('hashed names, as ssh-keygen -H writes them (for port 22 and [host]:port)', () => {
    const dir = mkdtempSync('/tmp/bst-known-');
    try {
      const file = join(dir, 'known_hosts');
      writeFileSync(file, `203.0.113.7 ssh-ed25519 ${A}\n[203.0.113.7]:2222 ssh-ed25519 ${B}\n`);
      execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
      const hashed = readFileSync(file, 'utf8');
      expect(hashed).not.toContain('203.0.113.7');
      expect([...knownHostKeys(hashed, '203.0.113.7')]).toEqual([A]);
      expect([...knownHostKeys(hashed, '203.0.113.7', 2222)]).toEqual([B]);
      expect([...knownHostKeys(hashed, '203.0.113.8')]).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
