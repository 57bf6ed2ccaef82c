/** One server-sent event. */
export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

/** Reads a server-sent event stream; `next(predicate)` resolves with the first event (seen or to come) that matches. */
export class SseClient {
  readonly #events: SseEvent[] = [];
  readonly #waiters: { predicate: (event: SseEvent) => boolean; resolve: (event: SseEvent) => void }[] = [];
  readonly #controller = new AbortController();
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.opened = this.#read(url);
    this.opened.catch(() => undefined);
  }

  async #read(url: string): Promise<void> {
    const response = await fetch(url, { signal: this.#controller.signal });
    if (response.body === null) throw new Error('no body');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data === '') continue;
            this.#push({ event, data: JSON.parse(data) as unknown });
          }
        }
      } catch {
        // aborted
      }
    })();
  }

  #push(event: SseEvent): void {
    this.#events.push(event);
    for (const waiter of [...this.#waiters])
      if (waiter.predicate(event)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
  }

  next(predicate: (event: SseEvent) => boolean): Promise<SseEvent> {
    const seen = this.#events.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ predicate, resolve }));
  }

  close(): void {
    this.#controller.abort();
  }
}

/** A predicate on process events: for process `pk`, whose row matches `fields`. */
export function processEvent(pk: number, fields: Record<string, unknown>): (event: SseEvent) => boolean {
  return (event) => {
    if (event.event !== 'process') return false;
    const process = (event.data as { process?: Record<string, unknown> }).process ?? {};
    return process['id'] === pk && Object.entries(fields).every(([key, value]) => process[key] === value);
  };
}
