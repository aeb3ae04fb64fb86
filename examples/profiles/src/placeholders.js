// PLACEHOLDERS — thin stand-ins for Stowage parts still being written
// (@stowage/http upload handling and media
// middleware, the static tag and dev middleware). Each is replaced by the real
// package as soon as it lands; nothing here is meant to survive.
import path from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import busboy from 'busboy'
import express from 'express'
import { verifySignedUrl, ValidationError } from '@stowage/core'

/**
 * PLACEHOLDER for @stowage/http: parses a multipart form, streaming each file
 * part through `fields[part].bind(record).save()` (validated before anything
 * is stored). Resolves with the text values, the FieldFiles saved (and the
 * client's file names) and, per field, the validation messages.
 */
export function receiveUpload(req, record, fields) {
  return new Promise((resolve, reject) => {
    const bb = busboy({ headers: req.headers, limits: { files: Object.keys(fields).length, fields: 20 } })
    const values = {}
    const files = {}
    const errors = {}
    const pending = []
    bb.on('field', (k, v) => (values[k] = v))
    bb.on('file', (k, stream, info) => {
      const field = fields[k]
      if (!field || !info.filename) return stream.resume()
      const file = field.bind(record)
      // A refused file makes the save destroy its source; busboy's own stream
      // must survive that and be drained, or the request never finishes.
      const body = new PassThrough()
      stream.pipe(body)
      pending.push(
        file.save(info.filename, body, { contentType: info.mimeType, deleteOld: false }).then(
          () => (files[k] = { file, filename: info.filename }),
          (err) => {
            stream.unpipe(body)
            stream.resume()
            if (!(err instanceof ValidationError)) throw err
            errors[k] = err.failures.map((f) => f.message)
          },
        ),
      )
    })
    bb.on('close', () => Promise.all(pending).then(() => resolve({ values, files, errors }), reject))
    bb.on('error', reject)
    req.pipe(bb)
  })
}

/** PLACEHOLDER for @stowage/http's media middleware. */
export function serveMedia(storage, { signed = false, secret, immutable = false } = {}) {
  return async (req, res, next) => {
    try {
      let download
      if (signed) {
        const check = verifySignedUrl(req.originalUrl, { secret })
        if (!check.ok) return res.status(403).type('text').send(`Forbidden: ${check.reason} signature`)
        download = check.download
      }
      const name = decodeURIComponent(req.path.replace(/^\//, ''))
      const stat = await storage.stat(name)
      res.setHeader('X-Content-Type-Options', 'nosniff')
      if (immutable) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable')
      res.setHeader('Content-Length', String(stat.size))
      res.type(stat.contentType ?? path.extname(name))
      if (download) res.attachment(download)
      Readable.from(await storage.open(name)).pipe(res)
    } catch (err) {
      if (err?.code === 'ENOENT' || err?.code === 'ESUSPICIOUS') return res.status(404).end()
      next(err)
    }
  }
}

/** PLACEHOLDER for @stowage/static's Nunjucks extension: `{% static 'css/app.css' %}` → `resolve(name)` (async). */
export class StaticExtension {
  constructor(resolve) {
    this.tags = ['static']
    this.resolve = resolve
  }
  parse(parser, nodes) {
    const tok = parser.nextToken()
    const args = parser.parseSignature(null, true)
    parser.advanceAfterBlockEnd(tok.value)
    return new nodes.CallExtensionAsync(this, 'run', args)
  }
  run(_ctx, name, callback) {
    Promise.resolve()
      .then(() => this.resolve(name))
      .then((url) => callback(null, url), callback)
  }
}

/** PLACEHOLDER for @stowage/static's dev middleware (serves straight from the finders' dirs). */
export const serveStaticDev = (dirs) => {
  const router = express.Router()
  for (const dir of dirs) router.use(express.static(dir, { fallthrough: true }))
  return router
}
