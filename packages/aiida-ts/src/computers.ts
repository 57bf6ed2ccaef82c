/**
 * `aiida-ts/computers`: what sits between computers and their plugins — the checks of `verdi computer test`
 * ({@link testComputer}), auth-param validation against a transport's schema, and the default hooks through
 * which `Computer.getTransport()`/`getScheduler()` reach the transport and scheduler registries. Importing it
 * loads both registries (and ssh2); `aiida-ts/orm` loads it only when a computer first needs a plugin.
 */
export {
  testComputer,
  type ComputerCheckResult,
  type ComputerTestReport,
  type TestComputerOptions,
} from './computers/computer-test.js';
export { authParamIssues, defaultComputerPluginHooks, validateAuthParams } from './computers/plugin-hooks.js';
