// PLACEHOLDERS — thin stand-ins for Stowage parts still being written
// (fields, validator exports, @stowage/http upload handling and media
// middleware, the static tag and dev middleware). Each is replaced by the real
// package as soon as it lands; nothing here is meant to survive.
import path from 'node:path'
import { Readable } from 'node:stream'
import busboy from 'busboy'
import express from 'express'
import { storages, validateContent, verifySignedUrl, ValidationError } from '@stowage/core'

const pad = (n) => String(n).padStart(2, '0')
const strftime = (pattern, d = new Date()) =>
  pattern.replace(/%Y/g, String(d.getUTCFullYear())).replace(/%m/g, pad(d.getUTCMonth() + 1)).replace(/%d/g, pad(d.getUTCDate()))

/** PLACEHOLDER for core's fileField. */
export function fileField({ uploadTo, storage, validators = [] }) {
  return {
    storage: () => storages.get(storage),
    validators,
    async save(filename, content, info = {}) {
      const stream = validateContent(content, validators, { filename, ...info })
      const name = await storages.get(storage).save(strftime(uploadTo) + path.basename(filename), stream)
      return { name, facts: stream.facts }
    },
  }
}
/** PLACEHOLDER for core's imageField. */
export const imageField = fileField

/** PLACEHOLDER for @stowage/http: multipart parsing that streams each file through its field. */
export function receiveUpload(req, fields) {
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
      pending.push(
        field.save(info.filename, stream, { contentType: info.mimeType }).then(
          (r) => (files[k] = r),
          (err) => {
            stream.resume()
            if (err instanceof ValidationError || err?.cause instanceof ValidationError) {
              const v = err instanceof ValidationError ? err : err.cause
              errors[k] = v.failures.map((f) => f.message)
            } else throw err
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
export function serveMedia(storage, { signed = false, secret } = {}) {
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

/** PLACEHOLDER for @stowage/static's Nunjucks extension. */
export class StaticExtension {
  constructor(resolve) {
    this.tags = ['static']
    this.resolve = resolve
  }
  parse(parser, nodes) {
    const tok = parser.nextToken()
    const args = parser.parseSignature(null, true)
    parser.advanceAfterBlockEnd(tok.value)
    return new nodes.CallExtension(this, 'run', args)
  }
  run(_ctx, name) {
    return this.resolve(name)
  }
}

/** PLACEHOLDER for @stowage/static's dev middleware (serves straight from the finders' dirs). */
export const serveStaticDev = (dirs) => {
  const router = express.Router()
  for (const dir of dirs) router.use(express.static(dir, { fallthrough: true }))
  return router
}
