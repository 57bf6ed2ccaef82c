/** The hashing of nodes lives with the ORM (aiida's `orm/nodes/caching`); the engine re-exports it. */
export * from '../../orm/nodes/caching.js';
