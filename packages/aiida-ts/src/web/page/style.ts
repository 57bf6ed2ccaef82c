/** The page's style sheet (light and dark themes through CSS variables). */
export const PAGE_CSS = ``;
