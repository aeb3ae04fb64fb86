/**
 * Stowage errors as HTTP responses. The status follows the error's stable
 * `code` (and for refusals, the failed rules); a server error never leaks
 * its message to the client.
 */
import type { ServerResponse } from 'node:http'
import { StorageError, ValidationError } from '@stowage/core'

const SIZE_RULES = new Set(['maxSize', 'totalSize', 'fieldSize'])
const TYPE_RULES = new Set(['allowedTypes'])

/** @returns the HTTP status for `err`: 413/415/400 for refusals, 404, 403, 400, or 500 (`EINVAL` included). Never throws. */
export function errorStatus(err: unknown): number {
  if (err instanceof ValidationError) {
    if (err.failures.some((f) => SIZE_RULES.has(f.rule))) return 413
    if (err.failures.some((f) => TYPE_RULES.has(f.rule))) return 415
    return 400
  }
  if (err instanceof StorageError) {
    switch (err.code) {
      case 'ENOENT':
        return 404
      case 'EACCES':
        return 403
      case 'ESUSPICIOUS':
      case 'EABORTED':
        return 400
      // EINVAL falls through to 500: it blames the server's own code (an expiresIn
      // over 7 days, an empty allowedTypes, a bad uploadTo pattern), and a client
      // can neither fix it nor be shown its message. Bad client input is refused
      // with ValidationError (400/413/415), and a bad Range header gets 416.
    }
  }
  return 500
}

/** The JSON body sent for an error. */
export interface ErrorBody {
  error: string
  message: string
  failures?: { rule: string; message: string; params?: Record<string, unknown> }[]
}

/** @returns the JSON body for `err`; a 500 gets a generic message. Never throws. */
export function errorBody(err: unknown): ErrorBody {
  const status = errorStatus(err)
  if (status === 500 || !(err instanceof StorageError)) return { error: 'EINTERNAL', message: 'Internal server error' }
  return { error: err.code, message: err.message, ...(err instanceof ValidationError && { failures: err.failures }) }
}

/**
 * Sends `err` as a JSON error response and closes the connection, since a
 * refused upload's body may be left unread on the socket.
 * If headers were already sent, destroys the response instead (the client
 * sees a broken response, not a wrong one). Returns nothing. Never throws.
 */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify(errorBody(err))
  res.writeHead(errorStatus(err), {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    connection: 'close',
  })
  res.end(body)
}
