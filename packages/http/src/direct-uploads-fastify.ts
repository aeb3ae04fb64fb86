/**
 * Fastify glue for `directUploads`, typed structurally so `@stowage/http`
 * does not depend on Fastify. Fastify parses bodies itself; inside this
 * plugin every body is left unread, so the handler can read JSON and stream
 * local uploads itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DirectUploads } from './direct-uploads.js'

interface FastifyScope {
  removeAllContentTypeParsers(): void
  addContentTypeParser(type: string, parser: (req: unknown, payload: unknown, done: (err: Error | null, body?: unknown) => void) => void): void
  route(options: { method: string[]; url: string; handler: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => void }): void
}

/**
 * @returns a Fastify plugin serving `uploads` under `basePath` (the same one given to `directUploads`):
 *   `await app.register(directUploadsFastify(uploads, '/uploads/avatar'))`. Never throws; the
 *   plugin rejects with what Fastify throws for the route registration.
 */
export function directUploadsFastify(uploads: Pick<DirectUploads<any>, 'handler'>, basePath: string): (scope: FastifyScope) => Promise<void> {
  const base = basePath.replace(/\/+$/, '')
  return async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null))
    scope.route({
      method: ['POST', 'PUT'],
      url: `${base}/*`,
      handler: (request, reply) => {
        reply.hijack()
        uploads.handler(request.raw, reply.raw)
      },
    })
  }
}
