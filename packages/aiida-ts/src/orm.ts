/**
 * `aiida-ts/orm`: the provenance graph's entities — nodes (data and process records), users, computers,
 * authinfos, groups, comments, logs — with links, loading, deletion and the node class registry.
 */
export { Node, NodeAttributes, NodeBase, NodeLinks, LinkManager, loadNodesByPk } from './orm/nodes/node.js';
// Loading the hashing module installs the `_aiida_hash` of every stored node (orm/nodes/caching.ts).
export { HASH_EXTRA_KEY } from './orm/nodes/caching.js';
export type { LinkFilter, LinkTriple, NodeClass, NodeOptions } from './orm/nodes/node.js';
export type { Linked, LinkedNodes, NodeLinksManager } from './orm/nodes/process/links-manager.js';
export { NodeRepository, type RepositoryHost, type RepositoryMetadata } from './orm/nodes/node-repository.js';
export {
  getNodeClassByEntryPoint,
  getNodeClassInfo,
  isValidNodeType,
  listNodeClasses,
  NodeEntryPointGroup,
  nodeTypeFor,
  registerNodeClass,
  resolveNodeClass,
  type NodeClassInfo,
  type RegisterNodeClassOptions,
} from './orm/nodes/registry.js';
export { Data } from './orm/nodes/data/data.js';
export {
  BaseType,
  Bool,
  Dict,
  EnumData,
  Float,
  Int,
  JsonableData,
  List,
  NumericType,
  Str,
  type EnumMember,
} from './orm/nodes/data/base.js';
export { NdArray, NpyDtype, readNpy, writeNpy, type NestedArray } from './orm/nodes/data/array/npy.js';
export { ArrayData } from './orm/nodes/data/array/array.js';
export { XyData, type XyArray, type XyInput } from './orm/nodes/data/array/xy.js';
export { KpointsData, reciprocalCell } from './orm/nodes/data/array/kpoints.js';
export {
  determinant,
  StructureData,
  type AtomInit,
  type Cell,
  type Kind,
  type Pbc,
  type Site,
  type Vector3,
} from './orm/nodes/data/structure.js';
export { ATOMIC_MASSES, isElementSymbol } from './orm/nodes/data/elements.js';
export { FolderData, SINGLEFILE_DEFAULT_FILENAME, SinglefileData } from './orm/nodes/data/files.js';
export { RemoteData } from './orm/nodes/data/remote.js';
export {
  RemoteStashCompressedData,
  RemoteStashCustomData,
  RemoteStashData,
  RemoteStashFolderData,
  type RemoteStashInit,
} from './orm/nodes/data/remote-stash.js';
export {
  AbstractCode,
  CODE_HIDDEN_EXTRA,
  CodeAttribute,
  validateCodeLabel,
  type AbstractCodeInit,
} from './orm/nodes/data/code/abstract.js';
export { InstalledCode, type InstalledCodeInit } from './orm/nodes/data/code/installed.js';
export {
  PortableCode,
  type PortableCodeFromFilesInit,
  type PortableCodeInit,
} from './orm/nodes/data/code/portable.js';
export {
  codeNodeTypes,
  listCodes,
  loadCode,
  type ListCodesOptions,
  type LoadCodeOptions,
} from './orm/nodes/data/code/load-code.js';
export {
  CalcFunctionNode,
  CalculationNode,
  ProcessAttribute,
  ProcessNode,
  ProcessState,
  WorkChainNode,
  WorkflowNode,
  WorkFunctionNode,
  type ExitCode,
} from './orm/nodes/process/process.js';
export {
  CalcJobAttribute,
  CalcJobNode,
  CalcJobState,
  type RetrieveListItem,
} from './orm/nodes/process/calcjob.js';
export { User, type UserInit } from './orm/entities/user.js';
export {
  AuthInfo,
  Computer,
  COMPUTER_DEFAULTS,
  ComputerProperty,
  loadComputer,
  hasDefaultComputerPluginHooks,
  resetComputerPluginHooks,
  setDefaultComputerPluginHooks,
  setComputerPluginHooks,
  type AuthInfoInit,
  type ComputerInit,
  type ComputerPluginHooks,
} from './orm/entities/computer.js';
export {
  AutoGroup,
  getGroupClass,
  Group,
  ImportGroup,
  loadGroup,
  registerGroupClass,
  UpfFamily,
  type GroupInit,
} from './orm/entities/group.js';
export { AutogroupManager, getAutogroupManager } from './orm/autogroup.js';
export { GroupPath, type GroupPathOptions } from './orm/entities/group-path.js';
export { Comment, NodeComments, type CommentInit } from './orm/entities/comment.js';
export { Log, LogLevel, NodeLogs, type LogInit, type LogLevelName } from './orm/entities/log.js';
export { EntityExtras } from './orm/entities/extras.js';
export {
  isLinkType,
  LINK_RULES,
  LinkType,
  PORT_NAMESPACE_SEPARATOR,
  validateLinkLabel,
  type LinkDegree,
  type NodeFamily,
} from './orm/links.js';
export { loadNode, loadNodeByPk, normaliseUuidPrefix, type LoadNodeOptions } from './orm/loaders.js';
export {
  deleteGroupNodes,
  deleteNodes,
  GraphTraversalRules,
  resolveTraversalRules,
  traverseGraph,
  type DeleteNodesOptions,
  type DeleteNodesResult,
  type GraphTraversalRule,
  type TraversalRuleName,
  type TraversalRuleValues,
} from './orm/delete.js';
export { cleanValue, cloneJson, validateKey, type JsonValue, type StorableValue } from './orm/utils/clean.js';
export { toAiidaType } from './orm/to-aiida-type.js';
export { getStorage, setDefaultStorage, withStorage, type StorageOption } from './storage/context.js';
