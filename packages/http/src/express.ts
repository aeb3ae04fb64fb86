/**
 * Express glue. `receiveUpload(req, ...)` and `serveMedia(...)` already work
 * in Express (its `req`/`res` are Node's); this adds the error handler that
 * turns Stowage errors into JSON responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { StorageError } from '@stowage/core'
import { sendError } from './http-errors.js'

/**
 * @returns Express error middleware: Stowage errors (refused uploads,
 * missing files) become JSON responses with the matching status (413, 415,
 * 400, 404, ...); any other error is passed on. Never throws.
 */
export function uploadErrorHandler() {
  return (err: unknown, _req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    if (err instanceof StorageError) sendError(res, err)
    else next(err)
  }
}
