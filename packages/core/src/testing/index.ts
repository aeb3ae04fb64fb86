/**
 * `@stowage/core/testing`: the public conformance suite for storage backends,
 * the table of hostile names every backend must refuse, and helpers.
 * Needs `vitest` (an optional peer dependency).
 */
export { runStorageConformance, randomPrefix, type ConformanceOptions, type ConformanceCase } from './conformance.js'
export { HOSTILE_NAMES, hostileNames } from './hostile-names.js'
export { MemoryStorage } from '../memory-storage.js'
