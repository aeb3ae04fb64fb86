/** Scenario 3, S3: see media.mjs. */
import { mediaScenario } from './media.mjs'

export const run = (ctx) => mediaScenario({ ...ctx, backend: 's3' })
