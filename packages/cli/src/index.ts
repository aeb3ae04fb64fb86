/**
 * `@stowage/cli`: the `stowage` command. `main(argv, io)` runs it in-process
 * and returns the exit code; the logic of each command lives in the library
 * packages (`collectstatic()` in `@stowage/static`).
 */
export { main, processIo, HELP } from './main.js'
export { collectstaticCommand, summaryLine, describe as describeStorage, COLLECTSTATIC_HELP } from './collectstatic-command.js'
export { ProgressBar, type ProgressTarget } from './progress.js'
export { checkProject, CHECK_PREFIX, type CheckOptions, type CheckReport, type CheckMessage, type StorageReport, type ProbeResult } from './check.js'
export { checkCommand, formatReport, CHECK_HELP } from './check-command.js'
export { cleanMedia, DEFAULT_MIN_AGE, type CleanMediaOptions, type CleanMediaSummary, type ReferencesResolver, type ReferencesContext } from './clean-media.js'
export { cleanMediaCommand, CLEAN_MEDIA_HELP } from './clean-media-command.js'
export { cleanStaticCommand, CLEAN_STATIC_HELP } from './clean-static-command.js'
export type { Io } from './io.js'
