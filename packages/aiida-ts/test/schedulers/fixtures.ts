import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'kiwipy-ts';

/** A recorded scheduler output from `test/schedulers/fixtures/`. */
export function fixture(relativePath: string): string {
  return readFileSync(fileURLToPath(new URL(`./fixtures/${relativePath}`, import.meta.url)), 'utf8');
}

/** A logger that keeps what it is told, to check warnings a user would see. */
export function recordingLogger(): Logger & { readonly messages: { level: string; message: string }[] } {
  const messages: { level: string; message: string }[] = [];
  const at = (level: string) => (_fields: object, message: string) => {
    messages.push({ level, message });
  };
  return { messages, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
