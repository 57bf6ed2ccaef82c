import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useBrowser } from './browser-fixture.js';
import { PNG_PIXEL } from './web-fixture.js';

describe('the process, node, graph and group views in headless Chromium', () => {
  const browser = useBrowser();

  it('opens a call tree, clicks through to an input node and expands the graph', async () => {
    const { page, address, filled, shot } = browser();
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
    const { page, address, filled, shot } = browser();
    await page.goto(`${address}/nodes/${filled.folder.pk}`);
    await page.locator('[data-file="pixel.png"]').click();
    await page.locator('[data-testid=image-viewer]').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-testid=download]').click(),
    ]);
    expect(download.suggestedFilename()).toBe('pixel.png');
    const path = await download.path();
    expect((await readFile(path)).equals(PNG_PIXEL)).toBe(true);
    await page.locator('[data-file="sub"]').click();
    await page.locator('[data-file="sub/readme.md"]').click();
    expect(await page.locator('[data-testid=text-viewer]').textContent()).toBe('# hello\n');
    await page.goto(`${address}/nodes/${filled.array.pk}`);
    await page.locator('[data-testid=array-table]').waitFor();
    expect(await page.locator('[data-testid=array-table] tbody tr').count()).toBe(2);
    await shot('files-and-arrays');
    await page.goto(`${address}/processes/${filled.calcjob.pk}`);
    await page.locator('[data-file="_aiidasubmit.sh"]').click();
    expect(await page.locator('[data-testid=text-viewer]').textContent()).toMatch(/^#!/);
    await page.locator('dl.facts', { hasText: 'job id' }).waitFor();
    await page.locator('[data-file="aiida.out"]').waitFor();
    await shot('calcjob-view');
  });

  it('works in the dark theme and at phone width', async () => {
    const { page, address, filled, shot } = browser();
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
