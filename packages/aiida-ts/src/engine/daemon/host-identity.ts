/**
 * Who an OS process is, for the daemon's worker rows: the same identity (and liveness check) the cross-process
 * coordinator keeps its owners by, so both judge a process the same way.
 */
export {
  currentProcessIdentity as currentHostIdentity,
  isProcessGone,
  type ProcessIdentity as HostIdentity,
} from '../coordination/process-identity.js';

/** The hostname part of a {@link HostIdentity.host}. */
export function hostnameOf(host: string): string {
  return host.split('/')[0] ?? host;
}
