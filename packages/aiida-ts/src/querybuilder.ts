/**
 * `aiida-ts/querybuilder`: aiida-core's QueryBuilder over the profile storage (SQLite or PostgreSQL), with
 * aiida's relationships, filter operators, projections and `as_dict` format.
 */
export {
  QueryBuilder,
  AppendOptionsSchema,
  type AppendOptions,
  type AsSqlOptions,
  type BatchOptions,
  type OrderByInput,
  type ProjectionInput,
  type QueryBuilderOptions,
  type QueryDictRow,
  type TagReference,
} from './querybuilder/query-builder.js';
export {
  FilterSpec,
  OrderByEntry,
  OrderSpec,
  PathItem,
  ProjectionItem,
  ProjectionModifiers,
  QueryDict,
  QueryDictInput,
} from './querybuilder/query-dict.js';
export {
  FILTER_OPERATORS,
  JSON_TYPE_NAMES,
  type FilterOperator,
  type JsonTypeName,
} from './querybuilder/filters.js';
export { OrmBase } from './querybuilder/entities.js';
export { RELATIONSHIPS, type JoinSpec, type RelationshipKeyword } from './querybuilder/relationships.js';
export {
  escapeForSqlLike,
  isValidNodeTypeString,
  type AnyClass,
  type AppendTarget,
  type Classifier,
  type EntityClassLike,
} from './querybuilder/classifiers.js';
export {
  decodeEntityRow,
  getEntityLoader,
  registerEntityLoader,
  type EntityRowLoader,
  type QueryBackend,
} from './querybuilder/results.js';
export { RECURSIVE_LINK_TYPES } from './querybuilder/sql/compile.js';
export { RowStream } from './querybuilder/row-stream.js';
