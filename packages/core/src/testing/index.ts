/**
 * `@stowage/core/testing`: the public conformance suite for storage backends,
 * the table of hostile names every backend must refuse, a corpus of hostile
 * and benign SVGs for upload policies, and helpers for tests of code that
 * stores files (`listAll`, `rejection`, `countingSource`) and sends raw request paths to a server (`rawGet`).
 * Needs `vitest` (an optional peer dependency).
 */
export { runStorageConformance, randomPrefix, type ConformanceOptions, type ConformanceCase, type ConformanceStorageOptions } from './conformance.js'
export { HOSTILE_NAMES, hostileNames, ENCODED_NAMES, encodedNames, HOSTILE_REQUEST_PATHS, hostileRequestPaths } from './hostile-names.js'
export { hostileSvgs, benignSvgs, type SvgCase } from './hostile-svgs.js'
export { MemoryStorage } from '../memory-storage.js'
export { listAll } from './list-all.js'
export { rawGet } from './raw-get.js'
export { rejection } from './rejection.js'
export { countingSource, type CountingSource } from './counting-source.js'
