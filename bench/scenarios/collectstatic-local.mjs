/** Scenario 1: collectstatic to local disk; see collectstatic.mjs. */
import { collectScenario } from './collectstatic.mjs'

export const run = (ctx) => collectScenario({ ...ctx, target: 'local' })
