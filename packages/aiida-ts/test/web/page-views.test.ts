import { readFile } from 'node:fs/promises';
import { StructureData } from 'aiida-ts/orm';
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

  it('draws a StructureData in 3D: atoms coloured by element inside the unit cell', async () => {
    const { page, address, shot } = browser();
    // rock salt's conventional cell: 4 Na and 4 Cl
    const structure = new StructureData({
      cell: [
        [5.64, 0, 0],
        [0, 5.64, 0],
        [0, 0, 5.64],
      ],
    });
    const half = 2.82;
    for (const [x, y, z] of [
      [0, 0, 0],
      [0, half, half],
      [half, 0, half],
      [half, half, 0],
    ] as const) {
      structure.appendAtom({ symbols: 'Na', position: [x, y, z] });
      structure.appendAtom({ symbols: 'Cl', position: [x + half, y, z] });
    }
    await structure.store();
    await page.goto(`${address}/nodes/${structure.pk}`);
    const view = page.locator('[data-testid=structure-view][data-rendered="8"]');
    await view.waitFor();
    const legend = await page.locator('[data-testid=structure-legend]').textContent();
    expect(legend).toContain('Na');
    expect(legend).toContain('Cl');
    // read the drawn pixels back: the atoms' colours are there, and far from all of the canvas is empty
    const pixels = await page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid=structure-canvas]');
      if (canvas === null) return null;
      const copy = document.createElement('canvas');
      copy.width = canvas.width;
      copy.height = canvas.height;
      const context = copy.getContext('2d');
      if (context === null) return null;
      context.drawImage(canvas, 0, 0);
      const data = context.getImageData(0, 0, copy.width, copy.height).data;
      let drawn = 0;
      let purple = 0; // Na is drawn violet (#ab5cf2)
      let green = 0; // Cl green (#1ff01f)
      for (let index = 0; index < data.length; index += 4) {
        const [r = 0, g = 0, b = 0, a = 0] = data.subarray(index, index + 4);
        if (a === 0) continue;
        drawn += 1;
        if (b > g + 40 && r > g + 20) purple += 1;
        if (g > r + 60 && g > b + 60) green += 1;
      }
      return { drawn, purple, green, total: data.length / 4 };
    });
    expect(pixels).not.toBeNull();
    expect(pixels?.drawn ?? 0).toBeGreaterThan((pixels?.total ?? 0) / 50);
    expect(pixels?.purple ?? 0).toBeGreaterThan(100);
    expect(pixels?.green ?? 0).toBeGreaterThan(100);
    // the unit cell is drawn in the view's CSS colour, which the theme sets, and follows a theme switch without
    // reopening the node: after each switch, count the opaque pixels near the new colour and near the old one
    type Rgb = readonly [number, number, number];
    const cellPixels = (stale: Rgb | null) =>
      page.evaluate((old) => {
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid=structure-canvas]');
        const view = document.querySelector<HTMLElement>('[data-testid=structure-view]');
        const copy = document.createElement('canvas');
        copy.width = canvas?.width ?? 0;
        copy.height = canvas?.height ?? 0;
        const context = copy.getContext('2d');
        if (canvas === null || view === null || context === null) return null;
        const colour = (getComputedStyle(view).color.match(/\d+/g) ?? []).slice(0, 3).map(Number);
        const [r = 0, g = 0, b = 0] = colour;
        context.drawImage(canvas, 0, 0);
        const data = context.getImageData(0, 0, copy.width, copy.height).data;
        const near = (index: number, [cr, cg, cb]: readonly number[]): boolean =>
          Math.abs((data[index] ?? 0) - (cr ?? 0)) +
            Math.abs((data[index + 1] ?? 0) - (cg ?? 0)) +
            Math.abs((data[index + 2] ?? 0) - (cb ?? 0)) <
          24;
        let own = 0;
        let before = 0;
        for (let index = 0; index < data.length; index += 4) {
          if ((data[index + 3] ?? 0) < 240) continue; // the edges of the antialiased lines blend with the page
          if (near(index, colour)) own += 1;
          if (old !== null && near(index, old)) before += 1;
        }
        return { theme: document.documentElement.dataset['theme'], colour: [r, g, b] as const, own, before };
      }, stale);
    const first = await cellPixels(null);
    if (first === null) throw new Error('no structure canvas');
    expect(first.own).toBeGreaterThan(200);
    let previous = first;
    for (let switches = 0; switches < 2; switches += 1) {
      await page.locator('[data-testid=theme]').click();
      const next = await cellPixels(previous.colour);
      if (next === null) throw new Error('no structure canvas');
      const seen = JSON.stringify([previous, next]);
      expect(next.theme, seen).not.toBe(previous.theme);
      expect(next.colour, seen).not.toEqual(previous.colour);
      expect(next.own, seen).toBeGreaterThan(200);
      expect(next.before, seen).toBeLessThan(next.own / 10);
      previous = next;
    }
    // dragging rotates the view: the picture changes
    const before = await view.screenshot();
    const box = await view.boundingBox();
    if (box === null) throw new Error('no structure view on the page');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 40, { steps: 5 });
    await page.mouse.up();
    const after = await view.screenshot();
    expect(after.equals(before)).toBe(false);
    await shot('structure-view');
  });
});
