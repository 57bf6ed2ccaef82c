import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { createWebServer, type WebServer } from '../../src/web/server.js';
import { useEngine, type EngineFixture } from '../engine/helpers.js';
import { openSqliteDos } from '../storage/helpers.js';
import { fillProfile, type FilledProfile } from './web-fixture.js';

/** Screenshots of each view, kept as artifacts of the run (git-ignored). */
export const SHOTS = fileURLToPath(new URL('../../test-results/web/', import.meta.url));
export const TOKEN = 'e2e-token';

/** What a browser test works with. */
export interface BrowserFixture {
  readonly engine: EngineFixture;
  readonly address: string;
  readonly page: Page;
  readonly filled: FilledProfile;
  /** Saves a screenshot of the page under test-results/web/. */
  shot(name: string): Promise<Buffer>;
}

/**
 * An engine-filled SQLite profile, `verdi web`'s server on it (the engine's communicator as broker, the token
 * {@link TOKEN}) and a page in Debian's headless Chromium (never a downloaded browser), for the enclosing `describe`.
 */
export function useBrowser(): () => BrowserFixture {
  const engine = useEngine(openSqliteDos);
  let server: WebServer | undefined;
  let browser: Browser | undefined;
  let fixture: BrowserFixture | undefined;
  let filled: FilledProfile | undefined;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    filled = await fillProfile();
    server = await createWebServer({
      storage: engine().storage,
      communicator: engine().communicator,
      token: TOKEN,
      pollIntervalMs: 100,
    });
    const address = await server.listen({ port: 0 });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    const page = await context.newPage();
    page.on('pageerror', (error) => {
      throw error;
    });
    fixture = {
      engine: engine(),
      address,
      page,
      filled,
      shot: (name) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: false }),
    };
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await filled?.cleanup();
  });
  return () => {
    if (fixture === undefined) throw new Error('browser not ready');
    return fixture;
  };
}
