import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ArchiveImportError } from '../../errors.js';

/** Whether `value` is an `http(s)://` URL (what `verdi archive import` downloads instead of opening). */
export function isArchiveUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

function parseUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new ArchiveImportError(`malformed URL \`${value}\``, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ArchiveImportError(`only http(s) URLs can be downloaded, not \`${value}\``);
  return url;
}

/** Downloads `url` into `file` (streamed, never held in memory); `ArchiveImportError` on any failure. */
export async function downloadArchive(url: string, file: string): Promise<void> {
  const parsed = parseUrl(url);
  let response: Response;
  try {
    response = await fetch(parsed, { redirect: 'follow' });
  } catch (error) {
    throw new ArchiveImportError(`downloading archive ${url} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!response.ok || response.body === null)
    throw new ArchiveImportError(
      `downloading archive ${url} failed: HTTP ${response.status} ${response.statusText}`,
    );
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(file));
}

/**
 * The `.aiida` archives a web page links to (aiida's `get_valid_import_links`): every `href` ending in `.aiida`,
 * resolved against the page's URL, in page order without repeats.
 */
export async function discoverArchiveLinks(webpage: string): Promise<string[]> {
  const page = parseUrl(webpage);
  const response = await fetch(page, { redirect: 'follow' });
  if (!response.ok) throw new ArchiveImportError(`retrieving ${webpage} failed: HTTP ${response.status}`);
  const html = await response.text();
  const links: string[] = [];
  for (const match of html.matchAll(/href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
    const href = (match[1] ?? match[2] ?? match[3] ?? '').trim();
    if (!/\.aiida$/i.test(href.split(/[?#]/)[0] ?? '')) continue;
    const resolved = new URL(href, response.url || page).href;
    if (!links.includes(resolved)) links.push(resolved);
  }
  return links;
}
