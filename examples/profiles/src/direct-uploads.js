// Direct uploads for the profile forms. On S3 the browser sends files
// straight to the bucket (with a progress bar, in resumable parts for big
// documents) and the form then carries only upload tokens, which the form
// handler confirms with each field's validators. On local disk the forms
// upload through this server as before.
import path from 'node:path'
import express from 'express'
import { ValidationError } from '@stowage/core'
import { directUploads } from '@stowage/http'
import { avatar, document } from './profile.js'

/** The browser client, built by `npm run build` (tsc) from packages/browser. */
const BROWSER_CLIENT = path.resolve(import.meta.dirname, '../../../packages/browser/dist')
const FIELDS = { avatar, document }

/** Whether a storage can sign direct uploads (S3Storage). */
function presigns(storage) {
  return typeof storage.presignPut === 'function' && typeof storage.createMultipartUpload === 'function'
}

/**
 * Mounts the direct-upload endpoints when both storages can presign.
 * @returns `direct` (whether the forms upload straight to the bucket) and
 *   `confirm(fields, record, names)`, which confirms the `<field>_upload`
 *   tokens of a submitted form into the record. On a refusal it cancels the
 *   other uploads and deletes what it kept, then throws a ValidationError
 *   with each failure under its form field.
 */
export function mountDirectUploads(app, { media, privateMedia, signingSecret }) {
  const direct = presigns(media) && presigns(privateMedia)
  // Lowered by the end-to-end test to exercise multipart uploads with small files.
  const multipartThreshold = Number(process.env.PROFILES_MULTIPART_THRESHOLD) || undefined
  const uploads = Object.fromEntries(
    Object.entries(FIELDS).map(([name, field]) => [
      name,
      directUploads(field, { basePath: `/uploads/${name}`, secret: signingSecret, multipartThreshold, partSize: multipartThreshold }),
    ]),
  )
  if (direct) {
    for (const name of Object.keys(FIELDS)) app.use(`/uploads/${name}`, uploads[name].handler)
    app.use('/client/stowage-browser', express.static(BROWSER_CLIENT))
    app.use('/client', express.static(path.join(import.meta.dirname, 'client')))
  }

  async function confirm(fields, record, names) {
    const kept = []
    try {
      for (const name of names) {
        const token = fields[`${name}_upload`]
        if (!token) continue
        try {
          await uploads[name].confirm(token, record)
          kept.push(name)
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err
          throw new ValidationError(
            err.failures.map((f) => ({ ...f, params: { ...f.params, field: name } })),
            { context: { fields } },
          )
        }
      }
    } catch (err) {
      // Nothing of a refused form lingers: pending uploads are cancelled, confirmed ones deleted.
      const waiting = names.filter((n) => !kept.includes(n) && fields[`${n}_upload`])
      await Promise.all(waiting.map((n) => uploads[n].abort(fields[`${n}_upload`]).catch(() => {})))
      await Promise.all(kept.map((n) => FIELDS[n].bind(record).delete()))
      throw err
    }
  }
  return { direct, confirm }
}
