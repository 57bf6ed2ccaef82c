import fc from 'fast-check';
import {
  BroadcastFilter,
  LocalCommunicator,
  wildcardToRegExp,
  type BroadcastMessage,
  type SubscriberContext,
} from 'kiwipy-ts';
import { describe, expect, it } from 'vitest';

const context: SubscriberContext = { communicator: new LocalCommunicator() };

function message(fields: Partial<BroadcastMessage>): BroadcastMessage {
  return { body: null, sender: null, subject: null, correlationId: null, ...fields };
}

function passes(filter: BroadcastFilter, sender: unknown, subject: unknown): boolean {
  return !filter.isFiltered(sender, subject);
}

/** Strings without the wildcard character. */
const literal = fc.string({ maxLength: 12 }).filter((s) => !s.includes('*'));

describe('BroadcastFilter', () => {
  it('lets everything through when it has no filters', () => {
    fc.assert(
      fc.property(fc.option(fc.string()), fc.option(fc.string()), (sender, subject) => {
        expect(passes(new BroadcastFilter(() => undefined), sender, subject)).toBe(true);
      }),
    );
  });

  it('matches a literal pattern as a prefix, as kiwipy does with re.match', () => {
    fc.assert(
      fc.property(literal, fc.string({ maxLength: 12 }), (pattern, value) => {
        const filter = new BroadcastFilter(() => undefined, { subject: pattern });
        expect(passes(filter, null, value)).toBe(value.startsWith(pattern));
      }),
    );
    const filter = new BroadcastFilter(() => undefined, { sender: 'alice.jones' });
    expect(passes(filter, 'alice.jones', null)).toBe(true);
    expect(passes(filter, 'alice.jonesy', null)).toBe(true); // prefix-anchored, not a full match
    expect(passes(filter, 'bob.alice.jones', null)).toBe(false);
  });

  it('treats `*` as any run of characters and every other character literally', () => {
    fc.assert(
      fc.property(
        literal,
        literal,
        fc.string({ maxLength: 8 }),
        fc.string({ maxLength: 8 }),
        (head, tail, middle, rest) => {
          const filter = new BroadcastFilter(() => undefined, { subject: `${head}*${tail}` });
          expect(passes(filter, null, `${head}${middle}${tail}${rest}`)).toBe(true);
        },
      ),
    );
    const dots = new BroadcastFilter(() => undefined, { subject: 'purchase.*' });
    expect(passes(dots, null, 'purchase.car')).toBe(true);
    expect(passes(dots, null, 'purchaseXcar')).toBe(false); // `.` is a dot, not "any character"
    const specials = new BroadcastFilter(() => undefined, { subject: 'a+b(c)?[d]' });
    expect(passes(specials, null, 'a+b(c)?[d]')).toBe(true);
    expect(passes(specials, null, 'aab')).toBe(false);
    expect(wildcardToRegExp('*.jones').test('bob.jones')).toBe(true);
  });

  it('matches a regular expression from the start of the value only', () => {
    const filter = new BroadcastFilter(() => undefined, { sender: /jones/ });
    expect(passes(filter, 'jones.bob', null)).toBe(true);
    expect(passes(filter, 'bob.jones', null)).toBe(false);
    const anywhere = new BroadcastFilter(() => undefined, { sender: /.*jones/ });
    expect(passes(anywhere, 'bob.jones', null)).toBe(true);
  });

  it('gives the same answer every time for global and sticky regular expressions', () => {
    for (const re of [/ab/g, /ab/y, /ab/gy]) {
      const filter = new BroadcastFilter(() => undefined, { subject: re });
      const answers = Array.from({ length: 4 }, () => passes(filter, null, 'abab'));
      expect(answers).toEqual([true, true, true, true]);
      expect(passes(filter, null, 'xab')).toBe(false);
    }
  });

  it('compares other values for equality (a pk, say)', () => {
    const filter = new BroadcastFilter(() => undefined, { sender: 12 });
    expect(passes(filter, 12, null)).toBe(true);
    expect(passes(filter, 13, null)).toBe(false);
    expect(passes(filter, '12', null)).toBe(false);
  });

  it('never filters out a broadcast for a missing subject or sender', () => {
    fc.assert(
      fc.property(literal, literal, fc.constantFrom(null, undefined), (subject, sender, missing) => {
        const filter = new BroadcastFilter(() => undefined, { subject: `${subject}x`, sender: `${sender}y` });
        expect(passes(filter, missing, missing)).toBe(true);
        expect(passes(filter, missing, `${subject}x`)).toBe(true);
        expect(passes(filter, `${sender}y`, missing)).toBe(true);
      }),
    );
  });

  it('treats several filters of one kind as alternatives and the two kinds as both required', () => {
    fc.assert(
      fc.property(
        fc.array(literal, { minLength: 1, maxLength: 3 }),
        fc.array(literal, { minLength: 1, maxLength: 3 }),
        fc.string({ maxLength: 10 }),
        fc.string({ maxLength: 10 }),
        (subjects, senders, subject, sender) => {
          const filter = new BroadcastFilter(() => undefined);
          for (const s of subjects) filter.addSubjectFilter(s);
          for (const s of senders) filter.addSenderFilter(s);
          const subjectOk = subjects.some((s) => subject.startsWith(s));
          const senderOk = senders.some((s) => sender.startsWith(s));
          expect(passes(filter, sender, subject)).toBe(subjectOk && senderOk);
        },
      ),
    );
  });

  it('calls its subscriber with the message and context only when the broadcast passes', () => {
    const seen: [BroadcastMessage, SubscriberContext][] = [];
    const filter = new BroadcastFilter(
      (m, c) => {
        seen.push([m, c]);
        return 'delivered';
      },
      { subject: 'state_changed.*' },
    );
    const ok = message({ subject: 'state_changed.running', body: 1 });
    expect(filter.deliver(ok, context)).toBe('delivered');
    expect(filter.deliver(message({ subject: 'other' }), context)).toBeUndefined();
    expect(seen).toEqual([[ok, context]]);
  });
});
