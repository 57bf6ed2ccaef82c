/** `verdi quota`: named limits on queued jobs shared by several computers (see `../computer/quota.ts`). */
export { default } from '../computer/quota.js';
