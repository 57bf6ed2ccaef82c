import { describe, expect, it } from 'vitest';
import { TOKEN, useBrowser } from './browser-fixture.js';
import { HeldWorkChain, openGate } from './held-workchain.js';

describe('the live process list in headless Chromium', () => {
  const browser = useBrowser();

  it('shows a work chain appear and change state live, and pauses and plays it with the token only', async () => {
    const { page, address, engine, shot } = browser();
    const row = (pk: number) => page.locator(`[data-testid=process-rows] tr[data-pk="${pk}"]`);
    await page.goto(`${address}/`);
    await page.locator('[data-testid=live].on').waitFor();
    await expect.poll(() => page.locator('[data-testid=process-rows] tr').count()).toBeGreaterThan(3);
    const gate = 'page-e2e';
    const process = await engine.runner.instantiate(HeldWorkChain, { gate });
    const done = engine.runner.executeProcess(process);
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
});
