/** Scenario 2: collectstatic to S3; see collectstatic.mjs. */
import { collectScenario } from './collectstatic.mjs'

export const run = (ctx) => collectScenario({ ...ctx, target: 's3' })
