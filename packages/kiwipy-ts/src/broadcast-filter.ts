import type { BroadcastMessage, BroadcastSubscriber, SubscriberContext } from './communicator.js';

/**
 * A filter value: a string is a wildcard pattern (`*` matches anything, every other character itself), a
 * RegExp is matched from the start of the value, anything else is compared for equality (a pk, say).
 */
export type FilterValue = string | RegExp | number | boolean | bigint | null;

/** Options of {@link BroadcastFilter}. */
export interface BroadcastFilterOptions {
  readonly subject?: FilterValue;
  readonly sender?: FilterValue;
}

type Matcher = (value: unknown) => boolean;

/**
 * Forwards a broadcast to its subscriber only when it passes the subject and sender filters, with kiwipy's
 * rules: several filters of one kind are alternatives, subject and sender must both pass, patterns match
 * from the start of the value (kiwipy uses `re.match`), and a broadcast without a subject (or sender) is
 * never filtered out on that account.
 */
export class BroadcastFilter {
  readonly subscriber: BroadcastSubscriber;
  readonly #subjectFilters: Matcher[] = [];
  readonly #senderFilters: Matcher[] = [];

  constructor(subscriber: BroadcastSubscriber, options: BroadcastFilterOptions = {}) {
    this.subscriber = subscriber;
    if (options.subject !== undefined) this.addSubjectFilter(options.subject);
    if (options.sender !== undefined) this.addSenderFilter(options.sender);
  }

  addSubjectFilter(filter: FilterValue): this {
    this.#subjectFilters.push(matcher(filter));
    return this;
  }

  addSenderFilter(filter: FilterValue): this {
    this.#senderFilters.push(matcher(filter));
    return this;
  }

  /** True when this filter holds back a broadcast with this sender and subject. */
  isFiltered(sender: unknown, subject: unknown): boolean {
    if (subject !== null && subject !== undefined && this.#subjectFilters.length > 0) {
      if (!this.#subjectFilters.some((m) => m(subject))) return true;
    }
    if (sender !== null && sender !== undefined && this.#senderFilters.length > 0) {
      if (!this.#senderFilters.some((m) => m(sender))) return true;
    }
    return false;
  }

  /** Calls the subscriber unless the broadcast is filtered out. */
  deliver(message: BroadcastMessage, context: SubscriberContext): unknown {
    if (this.isFiltered(message.sender, message.subject)) return undefined;
    return this.subscriber(message, context);
  }
}

function matcher(filter: FilterValue): Matcher {
  if (typeof filter === 'string') return regexMatcher(wildcardToRegExp(filter));
  if (filter instanceof RegExp) return regexMatcher(filter);
  return (value) => value === filter;
}

/** `*` matches any run of characters; every other character, `.` included, stands for itself. */
export function wildcardToRegExp(pattern: string): RegExp {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(source);
}

/**
 * The anchored copies of patterns met lately, by source and flags: every process subscribes with the same filter, and
 * compiling its pattern again for each one cost more than the rest of subscribing. Sharing one is safe: a test resets
 * `lastIndex` and runs synchronously.
 */
const anchoredPatterns = new Map<string, RegExp>();

function regexMatcher(re: RegExp): Matcher {
  // Sticky at index 0 anchors the match at the start without changing what the pattern means elsewhere.
  const flags = re.flags.replace(/[gy]/g, '') + 'y';
  const id = `${flags}/${re.source}`;
  let anchored = anchoredPatterns.get(id);
  if (anchored === undefined) {
    anchored = new RegExp(re.source, flags);
    if (anchoredPatterns.size >= 256) anchoredPatterns.clear();
    anchoredPatterns.set(id, anchored);
  }
  const pattern = anchored;
  return (value) => {
    pattern.lastIndex = 0;
    return pattern.test(typeof value === 'string' ? value : String(value));
  };
}
