import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from './keys.ts';
import { loadConfig } from './load-config.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'keelson-config-'));

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const r = loadConfig({ env: { KEELSON_SOURCE_URL: 'file:///srv/repo.git' }, cwd: '/work' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({
      source: {
        type: 'git',
        url: 'file:///srv/repo.git',
        branch: 'main',
        path: '.',
        checkoutDir: '/work/.keelson/checkout',
      },
      pollIntervalMs: 60_000,
      jitter: 0.1,
      mode: 'apply',
      state: { backend: 'file', path: '/work/.keelson/state.json' },
      http: { port: 8080, publicUrl: 'http://localhost:8080' },
      alerts: { afterObservations: 2, reminderMs: 86_400_000 },
    });
  });

  it('reads keelson.yaml from cwd, and the environment wins over the file', () => {
    const cwd = dir();
    writeFileSync(
      join(cwd, 'keelson.yaml'),
      'source:\n  url: https://git.example/infra.git\n  branch: prod\nhttp:\n  port: 9000\n',
    );
    const r = loadConfig({ env: { KEELSON_HTTP_PORT: '9100' }, cwd });
    expect(r.ok && r.config.source).toMatchObject({ branch: 'prod', url: 'https://git.example/infra.git' });
    expect(r.ok && r.config.http.port).toBe(9100);
  });

  it('lists every problem at once, each with where, key and what to do', () => {
    const cwd = dir();
    writeFileSync(
      join(cwd, 'k.yaml'),
      'source:\n  url: https://git.example/x.git\n  verifySignatures: true\nmode: yolo\nhttp:\n  port: -1\ntypo: 1\nwebhook:\n  secret: inline\n',
    );
    const r = loadConfig({ file: 'k.yaml', env: { KEELSON_POLL_INTERVAL_SECONDS: 'often' }, cwd });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.problems.map((p) => `${p.where} ${p.key} ${p.message}`);
    expect(text).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^k\.yaml:4:1 mode must be one of apply, plan/),
        expect.stringMatching(/^k\.yaml:6:3 http\.port must be at least 0/),
        expect.stringMatching(/^k\.yaml:7:1 typo unknown key/),
        expect.stringMatching(/^k\.yaml:9:3 webhook\.secret is a secret: give it as KEELSON_WEBHOOK_SECRET/),
        expect.stringMatching(/^KEELSON_POLL_INTERVAL_SECONDS source\.pollIntervalSeconds must be a number/),
      ]),
    );
    expect(r.problems.length).toBeGreaterThanOrEqual(5);
  });

  it('reads secrets from *_FILE and refuses credentials inside the URL', () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'token'), 'tok-123\n');
    const ok = loadConfig({
      env: { KEELSON_SOURCE_URL: 'https://git.example/x.git', KEELSON_GIT_TOKEN_FILE: join(cwd, 'token') },
      cwd,
    });
    expect(ok.ok && ok.config.source.type === 'git' && ok.config.source.token?.reveal()).toBe('tok-123');
    expect(JSON.stringify(ok)).not.toContain('tok-123');
    const bad = loadConfig({ env: { KEELSON_SOURCE_URL: 'https://me:pw@git.example/x.git' }, cwd });
    expect(!bad.ok && bad.problems[0]?.message).toMatch(/carries a password/);
  });

  it('needs exactly one source', () => {
    const none = loadConfig({ env: {}, cwd: dir() });
    expect(!none.ok && none.problems[0]?.key).toBe('source.url');
    const both = loadConfig({ env: { KEELSON_SOURCE_URL: 'file:///x', KEELSON_SOURCE_DIRECTORY: '/x' }, cwd: dir() });
    expect(both.ok).toBe(false);
  });

  it('every key is documented in README-daemon.md with its environment variable and default', () => {
    const readme = readFileSync(new URL('../README-daemon.md', import.meta.url), 'utf8');
    for (const key of CONFIG_KEYS) {
      expect(readme, key.path).toContain(`\`${key.path}\``);
      expect(readme, key.env).toContain(`\`${key.env}\``);
      if (key.default !== undefined && !Array.isArray(key.default))
        expect(readme, `${key.path} default`).toContain(`\`${String(key.default)}\``);
    }
  });
});
