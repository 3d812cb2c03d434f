import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../reconciler/app/daemon.ts';
import { startDriftedDaemon } from './daemon-observed.ts';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM))
  console.log(`status page browser test skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

describe.skipIf(!existsSync(CHROMIUM))('the HTML status page in headless Chromium', () => {
  let daemon: Daemon;
  let base: string;

  beforeAll(async () => {
    ({ daemon, base } = await startDriftedDaemon());
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('shows the revision and the drifted resource, and renders to a non-empty screenshot', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`${base}/`);
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees
      const text = await page.innerText('body');
      const revision = daemon.status.data.revision ?? '';
      expect(revision).toMatch(/^dir-/);
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees
      expect(await page.innerText('#revision')).toBe(revision);
      expect(text).toContain('Drifted resources (1)');
      expect(text).toContain('file.Service/web');
      expect(text).toContain('replicas: 5 → 2');
      const png = await page.screenshot({ fullPage: true });
      expect(png.length).toBeGreaterThan(1000);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      // Self-contained: the page loads nothing but itself.
      expect(requests.filter((u) => !u.startsWith(base))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
