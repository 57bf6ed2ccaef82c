import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebServer, type WebServer } from '../../src/web/server.js';
import { useEngine } from '../engine/helpers.js';
import { openSqliteDos } from '../storage/helpers.js';
import { HeldWorkChain, openGate } from './held-workchain.js';
import { fillProfile, PNG_PIXEL, type FilledProfile } from './web-fixture.js';

/** Screenshots of each view, kept as artifacts of the run (git-ignored). */
const SHOTS = fileURLToPath(new URL('../../test-results/web/', import.meta.url));
const TOKEN = 'e2e-token';

describe('the page in headless Chromium', () => {
  const engine = useEngine(openSqliteDos);
  let server: WebServer;
  let address: string;
  let browser: Browser;
  let page: Page;
  let filled: FilledProfile;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    filled = await fillProfile();
    server = await createWebServer({
      storage: engine().storage,
      communicator: engine().communicator,
      token: TOKEN,
      pollIntervalMs: 100,
    });
    address = await server.listen({ port: 0 });
    // Debian's chromium; never a downloaded browser
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    page = await context.newPage();
    page.on('pageerror', (error) => {
      throw error;
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const shot = (name: string) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: false });
  const row = (pk: number) => page.locator(`[data-testid=process-rows] tr[data-pk="${pk}"]`);

  it('shows a work chain appear and change state live, and pauses and plays it with the token only', async () => {
    await page.goto(`${address}/`);
    await page.locator('[data-testid=live].on').waitFor();
    await expect.poll(() => page.locator('[data-testid=process-rows] tr').count()).toBeGreaterThan(3);
    const gate = 'page-e2e';
    const process = await engine().runner.instantiate(HeldWorkChain, { gate });
    const done = engine().runner.executeProcess(process);
    const pk = process.pk!;
    await row(pk).locator('[data-state=waiting]').waitFor();
    await shot('process-list');

    // without the token: refused, and the page says so
    await row(pk).locator('[data-action=pause]').click();
    await page.locator('.toast.error', { hasText: 'refused (401)' }).waitFor();
    await expect.poll(() => row(pk).getAttribute('data-pk')).toBe(String(pk));
    expect(await row(pk).locator('[data-paused=true]').count()).toBe(0);

    // with it: paused, then played, as the live list shows
    page.once('dialog', (dialog) => void dialog.accept(TOKEN));
    await page.locator('[data-testid=token-button]').click();
    await row(pk).locator('[data-action=pause]').click();
    await row(pk).locator('[data-paused=true]').waitFor();
    await shot('process-paused');
    await row(pk).locator('[data-action=play]').click();
    await row(pk).locator('[data-paused=false][data-state=waiting]').waitFor();

    openGate(gate);
    await done;
    await row(pk).locator('[data-state=finished]').waitFor();
  });

  it('opens a call tree, clicks through to an input node and expands the graph', async () => {
    await page.goto(`${address}/processes/${filled.outer.pk}`);
    const tree = page.locator('[data-testid=call-tree]');
    await tree.locator('li li').first().waitFor();
    expect(await tree.locator('li li').count()).toBeGreaterThanOrEqual(2);
    await page.locator('[data-testid=report]').waitFor();
    await shot('process-view');
    await page.locator(`[data-testid=inputs] a[data-node="${filled.x.pk}"]`).click();
    await page.locator('[data-testid=node-title]', { hasText: `Int<${filled.x.pk}>` }).waitFor();
    expect(await page.locator('[data-testid=attributes]').textContent()).toContain('"value": 1');
    await shot('node-view');

    await page.locator('[data-testid=graph-link]').click();
    const graph = page.locator('[data-testid=graph]');
    await graph.locator(`g.vertex[data-pk="${filled.x.pk}"]`).waitFor();
    const before = Number(await graph.getAttribute('data-nodes'));
    await graph.locator(`g.vertex[data-pk="${filled.outer.pk}"]`).click();
    await expect.poll(async () => Number(await graph.getAttribute('data-nodes'))).toBeGreaterThan(before);
    await page.locator('[data-testid=highlight]').fill('WorkChainNode');
    await graph.locator('g.vertex.lit').first().waitFor();
    await page.locator('[data-testid=fit]').click();
    await shot('graph');
  });

  it('shows files in a viewer and downloads them', async () => {
    await page.goto(`${address}/nodes/${filled.folder.pk}`);
    await page.locator('[data-file="pixel.png"]').click();
    await page.locator('[data-testid=image-viewer]').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-testid=download]').click(),
    ]);
    expect(download.suggestedFilename()).toBe('pixel.png');
    const path = await download.path();
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(path)).equals(PNG_PIXEL)).toBe(true);
    await page.locator('[data-file="sub"]').click();
    await page.locator('[data-file="sub/readme.md"]').click();
    expect(await page.locator('[data-testid=text-viewer]').textContent()).toBe('# hello\n');
    await page.goto(`${address}/nodes/${filled.array.pk}`);
    await page.locator('[data-testid=array-table]').waitFor();
    expect(await page.locator('[data-testid=array-table] tbody tr').count()).toBe(2);
    await shot('files-and-arrays');
  });

  it('works in the dark theme and at phone width', async () => {
    await page.goto(`${address}/groups`);
    await page.locator('[data-testid=groups] a', { hasText: 'web-group' }).click();
    await page.locator('[data-testid=group-nodes] tbody tr').nth(2).waitFor();
    await page.locator('[data-testid=theme]').click();
    await page.goto(`${address}/`);
    await page.locator('[data-testid=live].on').waitFor();
    await shot('process-list-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${address}/processes/${filled.outer.pk}`);
    await page.locator('[data-testid=call-tree] li li').first().waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('process-view-phone');
  });
});
