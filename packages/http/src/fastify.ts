/**
 * Fastify glue, typed structurally so `@stowage/http` does not depend on
 * Fastify. Fastify parses bodies itself and refuses unknown content types;
 * this plugin tells it to leave `multipart/form-data` bodies unread, so
 * `receiveUpload(request.raw, ...)` can stream them, and maps Stowage errors
 * to JSON responses.
 */
import { StorageError } from '@stowage/core'
import { errorBody, errorStatus } from './http-errors.js'

interface FastifyLike {
  addContentTypeParser(type: string, parser: (req: unknown, payload: unknown, done: (err: Error | null, body?: unknown) => void) => void): void
  setErrorHandler(handler: (err: unknown, req: unknown, reply: ReplyLike) => unknown): void
}
interface ReplyLike {
  code(status: number): ReplyLike
  header(name: string, value: string): ReplyLike
  send(body: unknown): unknown
}

/**
 * Prepares a Fastify instance for Stowage uploads. Call it before the routes
 * are registered (or wrap it with `fastify-plugin`).
 * @param fallback handles errors that are not Stowage's; default: rethrow to Fastify's own handling.
 * Returns nothing. @throws what Fastify throws for the registration (a `multipart/form-data` parser already added).
 */
export function stowageFastify(fastify: FastifyLike, fallback?: (err: unknown, req: unknown, reply: ReplyLike) => unknown): void {
  fastify.addContentTypeParser('multipart/form-data', (_req, _payload, done) => done(null))
  fastify.setErrorHandler((err, req, reply) => {
    if (err instanceof StorageError) {
      return reply.code(errorStatus(err)).header('connection', 'close').header('x-content-type-options', 'nosniff').send(errorBody(err))
    }
    if (fallback) return fallback(err, req, reply)
    throw err
  })
}
