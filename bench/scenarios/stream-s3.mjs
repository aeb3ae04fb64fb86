/** Scenario 4, S3 only: one 1 GiB stream saved and read back, peak RSS per operation; see stream.mjs. */
import { streamScenario } from './stream.mjs'

export const run = (ctx) => streamScenario({ ...ctx, backends: ['s3'] })
