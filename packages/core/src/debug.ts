/**
 * Stowage's debug channel: `NODE_DEBUG=stowage node app.js` prints every
 * storage operation (backend, operation, name, outcome, milliseconds) to
 * stderr. Off by default, and then each call costs one boolean check.
 */
import { debuglog } from 'node:util'

/** Logs a formatted line when `NODE_DEBUG` includes `stowage`; a no-op otherwise. Never throws. */
export const debug = debuglog('stowage')
