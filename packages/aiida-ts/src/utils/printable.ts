/**
 * Characters that must not reach a terminal raw: C0 controls but tab and newline (ESC starts cursor moves, screen
 * clears, title changes, hyperlinks; CR and backspace overwrite what was printed), DEL, C1 controls (U+009B is a
 * one-character CSI on some terminals), and the bidirectional controls that reorder what a reader sees (Trojan
 * Source). A label, description, file name or log message holding them is printed with them made visible.
 */
// eslint-disable-next-line no-control-regex -- control characters are what this module finds
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, 'g');
const UNPRINTABLE_OR_TAB_ALL = new RegExp(`${UNPRINTABLE.source.slice(0, -1)}\\t]`, 'g');

/**
 * The colour and weight sequences `verdi` itself prints (picocolors' bold, dim, red, green, yellow, blue, magenta,
 * cyan, gray and their resets). Only these survive, and only where colour is on: they can colour text, not hide it,
 * move the cursor or talk to the terminal.
 */
// eslint-disable-next-line no-control-regex -- ESC is part of the sequence
const OWN_SGR = /\u001b\[(?:1|2|22|3[1-6]|39|90)m/g;

/** Options of {@link printable}. */
export interface PrintableOptions {
  /** Keep `verdi`'s own colour sequences (see {@link OWN_SGR}); only for streams with colour on. Default false. */
  readonly colors?: boolean;
  /** Also escape tabs (table cells, where a tab breaks the alignment). Default false. */
  readonly tabs?: boolean;
}

function escape(character: string): string {
  // the JSON form, so that JSON output stays valid JSON and decodes back to the original text
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `text` safe to print on a terminal: every character of {@link UNPRINTABLE} written as a visible `\u001b`-style
 * escape, newlines (and tabs, unless `tabs`) kept. Everything `verdi` prints goes through this (see `Output`), so a
 * stored label such as `"\u001b]0;pwned\u0007"` is shown, never obeyed.
 */
export function printable(text: string, options: PrintableOptions = {}): string {
  const pattern = options.tabs === true ? UNPRINTABLE_OR_TAB_ALL : UNPRINTABLE_ALL;
  pattern.lastIndex = 0;
  if (!pattern.test(text)) return text;
  pattern.lastIndex = 0;
  if (options.colors !== true) return text.replace(pattern, escape);
  // keep our own colour sequences, escape everything around them
  let out = '';
  let at = 0;
  for (const match of text.matchAll(OWN_SGR)) {
    out += text.slice(at, match.index).replace(pattern, escape) + match[0];
    at = match.index + match[0].length;
  }
  return out + text.slice(at).replace(pattern, escape);
}
