import { z } from 'zod';
import { OrmBase } from './entities.js';

/**
 * The serialisable form of a query, with aiida-core's keys and layout (`QueryBuilder.as_dict()`, once called
 * `queryhelp`): a dictionary written by aiida-core can be read by {@link QueryBuilder.fromDict} and the other way
 * round. Filter values are kept as given (Dates stay Dates; JSON turns them into ISO strings, which timestamp
 * filters accept as well).
 */

/** A projection's modifiers: an aggregate function and/or a cast of a JSON value. */
export const ProjectionModifiers = z
  .object({
    func: z.enum(['max', 'min', 'count']).optional(),
    cast: z.enum(['f', 'i', 't', 'b', 'j', 'd']).optional(),
  })
  .strict();
export type ProjectionModifiers = z.infer<typeof ProjectionModifiers>;

/** One projection: `{field: modifiers}`, e.g. `{'attributes.value': {cast: 'i'}}` or `{'*': {}}`. */
export const ProjectionItem = z.record(z.string(), ProjectionModifiers);
export type ProjectionItem = z.infer<typeof ProjectionItem>;

/** How to order by one field: direction and, for a JSON value, the cast that makes it comparable. */
export const OrderSpec = z
  .object({
    order: z.enum(['asc', 'desc']),
    cast: z.enum(['f', 'i', 't', 'b', 'j', 'd']).optional(),
  })
  .strict();
export type OrderSpec = z.infer<typeof OrderSpec>;

/** One entry of `order_by`: for each tag, the fields in order of precedence. */
export const OrderByEntry = z.record(z.string(), z.array(z.record(z.string(), OrderSpec)));
export type OrderByEntry = z.infer<typeof OrderByEntry>;

/** A filter specification: field paths (or `and`/`or`) to a value or an operator dictionary. */
export const FilterSpec = z.record(z.string(), z.unknown());
export type FilterSpec = z.infer<typeof FilterSpec>;

/** One vertex of the query path. */
export const PathItem = z
  .object({
    /** The node type string (`data.core.int.Int.`, `''` for every node), `group.<type_string>`, `user`, … */
    entity_type: z.union([z.string(), z.array(z.string()).min(1)]),
    orm_base: OrmBase,
    tag: z.string().min(1),
    joining_keyword: z.string().nullable(),
    joining_value: z.string().nullable(),
    edge_tag: z.string().nullable(),
    outerjoin: z.boolean(),
  })
  .strict();
export type PathItem = z.infer<typeof PathItem>;

/** The whole query, as `QueryBuilder.as_dict()` returns it. */
export const QueryDict = z
  .object({
    path: z.array(PathItem),
    filters: z.record(z.string(), FilterSpec),
    project: z.record(z.string(), z.array(ProjectionItem)),
    project_map: z.record(z.string(), z.record(z.string(), z.string())),
    order_by: z.array(OrderByEntry),
    limit: z.number().int().nonnegative().nullable(),
    offset: z.number().int().nonnegative().nullable(),
    distinct: z.boolean(),
  })
  .strict();
export type QueryDict = z.infer<typeof QueryDict>;

/** What {@link QueryBuilder.fromDict} accepts: any key may be left out (aiida's constructor keywords). */
export const QueryDictInput = QueryDict.partial();
export type QueryDictInput = z.infer<typeof QueryDictInput>;
