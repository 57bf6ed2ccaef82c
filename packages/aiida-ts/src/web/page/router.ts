/// <reference lib="dom" />

/** A view: renders into `root` and returns a function that releases what it opened (event streams, timers). */
export type View = (root: HTMLElement, params: Record<string, string>) => (() => void) | void;

interface Route {
  readonly pattern: RegExp;
  readonly names: string[];
  readonly view: View;
}

const routes: Route[] = [];
let cleanup: (() => void) | undefined;
let outlet: HTMLElement | undefined;

/** Declares a route: `/processes/:id`. */
export function route(path: string, view: View): void {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/:([a-z]+)/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}/?$`,
  );
  routes.push({ pattern, names, view });
}

/** Goes to a page of the app without reloading. */
export function navigate(path: string): void {
  if (path !== location.pathname + location.search) history.pushState(null, '', path);
  render();
}

/** Renders the view of the current location. */
export function render(): void {
  if (outlet === undefined) return;
  cleanup?.();
  cleanup = undefined;
  for (const entry of routes) {
    const match = entry.pattern.exec(location.pathname);
    if (match === null) continue;
    const params = Object.fromEntries(
      entry.names.map((name, index) => [name, decodeURIComponent(match[index + 1] ?? '')]),
    );
    outlet.replaceChildren();
    cleanup = entry.view(outlet, params) ?? undefined;
    window.scrollTo(0, 0);
    return;
  }
  outlet.textContent = 'Page not found.';
}

/** Starts the router on `root`; links with `data-link` are followed in the app. */
export function start(root: HTMLElement): void {
  outlet = root;
  window.addEventListener('popstate', render);
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest('a[data-link]') : null;
    if (target === null || !(target instanceof HTMLAnchorElement)) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(target.getAttribute('href') ?? '/');
  });
  render();
}

/** A link followed inside the app. */
export function link(
  href: string,
  text: string | Node,
  attributes: Record<string, string> = {},
): HTMLAnchorElement {
  const anchor = document.createElement('a');
  anchor.href = href;
  anchor.dataset['link'] = '';
  for (const [key, value] of Object.entries(attributes)) anchor.setAttribute(key, value);
  anchor.append(text);
  return anchor;
}
