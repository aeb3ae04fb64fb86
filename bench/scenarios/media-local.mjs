/** Scenario 3, local disk: see media.mjs. */
import { mediaScenario } from './media.mjs'

export const run = (ctx) => mediaScenario({ ...ctx, backend: 'local' })
