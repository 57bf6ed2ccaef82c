/** Standard provenance exports of a process: W3C PROV-JSON and a Workflow Run RO-Crate. */
export { collectProvenance, type ProvenanceGraph, type ProvenanceLink } from './collect.js';
export {
  exportProvJson,
  PROV_PREFIXES,
  ProvAttributeValue,
  ProvJsonDocument,
  ProvRecord,
  ProvTypedLiteral,
  provNodeId,
  provUserId,
  toProvJson,
  type ProvJsonExportOptions,
} from './prov-json.js';
export {
  CRATE_PROFILES,
  CrateEntity,
  CrateRef,
  planRoCrate,
  RoCrateMetadata,
  type CrateFile,
  type RoCrateOptions,
  type RoCratePlan,
} from './ro-crate.js';
export {
  CRATE_METADATA_FILE,
  exportRoCrate,
  type RoCrateExportOptions,
  type RoCrateExportResult,
} from './crate-writer.js';
