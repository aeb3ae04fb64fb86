// The profiles web application: Express routes over a SQLite table whose
// file columns are Stowage fields. Nothing here knows which backend stores
// the files; stowage.config.js (plus STOWAGE_* environment variables) decides.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import express from 'express'
import nunjucks from 'nunjucks'
import { storages, ValidationError } from '@stowage/core'
import { receiveUpload, serveMedia, serveVariants } from '@stowage/http'
import { mountDirectUploads } from './direct-uploads.js'
import { addStaticToNunjucks, findersFromConfig, loadStaticUrls, serveStatic } from '@stowage/static'
import { avatar, avatarImages, document, DOCUMENT_LINK_SECONDS, limits, UPLOAD_LIMITS } from './profile.js'

export const APP_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const NAME_MAX = 100

/** Storage class names shown in the page header, so one can see where files go. */
function describeBackends(production) {
  const kind = (alias) => {
    const s = storages.get(alias)
    return s.storage ? `${s.constructor.name}(${s.storage.constructor.name})` : s.constructor.name
  }
  return { media: kind('default'), private: kind('private'), static: production ? kind('staticfiles') : 'finders (development)' }
}

/** The URL prefix a storage serves under when that is this app (local disk), else undefined. */
function servedHere(storage) {
  const base = storage.baseUrl
  return typeof base === 'string' && base.startsWith('/') ? base.replace(/\/+$/, '') : undefined
}

/** Turns a refused upload into messages per form field (`__all__` for the form as a whole). */
function messagesByField(err) {
  const errors = {}
  for (const f of err.failures) (errors[f.params?.field ?? '__all__'] ??= []).push(f.message)
  return errors
}

/**
 * Builds the Express application.
 * @param {object} options
 * @param {ReturnType<import('./db.js').openDatabase>} options.db the profile repository
 * @param {import('@stowage/core').StowageConfig} options.config the loaded configuration (`storages` configured with it)
 * @param {boolean} [options.production] serve collected, hashed static files (after `stowage collectstatic`) instead of the finders
 * @returns the Express app
 * @throws StorageError (`EMANIFEST`) in production when the static manifest cannot be read.
 */
export async function createApp({ db, config, production = false }) {
  const app = express()
  app.disable('x-powered-by')
  const backend = describeBackends(production)
  const staticStorage = storages.get('staticfiles')

  const env = nunjucks.configure(path.join(APP_ROOT, 'templates'), { autoescape: true, noCache: !production })
  // Development: plain names straight from the finders. Production: hashed names from the manifest,
  // under the storage's own URL (`/static/` on disk, the bucket's on S3), or STATIC_URL (a CDN in front of it).
  addStaticToNunjucks(env, await loadStaticUrls(staticStorage, { debug: !production, baseUrl: production ? process.env.STATIC_URL : '/static/' }))
  app.engine('njk', env.render.bind(env))
  app.set('view engine', 'njk')
  app.set('views', path.join(APP_ROOT, 'templates'))

  const finders = findersFromConfig(config)
  app.use(
    production
      ? serveStatic({ prefix: '/static/', storage: staticStorage, fallthrough: true })
      : serveStatic({ prefix: '/static/', finders, fallthrough: true }),
  )
  // Media is served by the app only where a storage's URLs point back at it
  // (local disk); on S3 the browser gets the bucket's (presigned) URLs.
  const media = storages.get('default')
  if (servedHere(media)) app.use(servedHere(media), serveMedia({ storage: media }))
  // Lazy avatar variants (the profile page's large size): made on first request, then served from storage.
  app.use('/variants', serveVariants({ storage: () => storages.get('default'), resolver: avatarImages }))
  const privateMedia = storages.get('private')
  if (servedHere(privateMedia)) {
    app.use(servedHere(privateMedia), serveMedia({ storage: privateMedia, private: true, signingSecret: config.storages.private?.options?.signingSecret }))
  }

  const { direct, confirm: confirmDirect } = mountDirectUploads(app, { media, privateMedia, signingSecret: config.storages.private?.options?.signingSecret })

  const render = (res, view, ctx, status = 200) => res.status(status).render(view, { backend, limits, direct, errors: {}, values: {}, ...ctx })
  const findProfile = (req) => {
    const id = Number(req.params.id)
    return Number.isSafeInteger(id) ? db.get(id) : undefined
  }

  app.get('/', async (req, res) => {
    const profiles = await Promise.all(db.all().map(async (p) => ({ ...p, avatarUrl: p.avatar ? await avatar.bind(p).variantUrl('thumb') : undefined })))
    render(res, 'profiles/list.njk', { profiles, flash: req.query.deleted ? `Deleted ${req.query.deleted}.` : undefined })
  })

  app.get('/profiles/new', (req, res) => render(res, 'profiles/new.njk'))

  app.post('/profiles', async (req, res) => {
    const record = { name: '', avatar: null, avatar_width: null, avatar_height: null, document: null, document_name: '' }
    let upload
    try {
      // Each file streams through its field's validators into its storage; a refusal leaves nothing stored.
      upload = await receiveUpload(req, { files: { avatar: avatar.bind(record), document: document.bind(record) }, limits: UPLOAD_LIMITS })
      if (direct) await confirmDirect(upload.fields, record, ['avatar', 'document'])
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      const values = err.context?.fields ?? {}
      return render(res, 'profiles/new.njk', { errors: messagesByField(err), values: { name: values.name ?? '' } }, 400)
    }
    const { fields, files } = upload
    const name = (fields.name ?? '').trim()
    const errors = {}
    if (!name) errors.name = ['A name is required']
    else if (name.length > NAME_MAX) errors.name = [`At most ${NAME_MAX} characters`]
    if (!record.avatar) errors.avatar = ['Choose an avatar image']
    if (Object.keys(errors).length) {
      // The files were fine but the form is not: do not keep them.
      await Promise.all([avatar.bind(record).delete(), document.bind(record).delete()])
      return render(res, 'profiles/new.njk', { errors, values: { name } }, 400)
    }
    record.name = name
    if (files.document) record.document_name = path.basename(files.document.filename)
    else if (record.document && fields.document_filename) record.document_name = path.basename(fields.document_filename)
    const id = db.insert(record)
    res.redirect(303, `/profiles/${id}?created=1`)
  })

  app.get('/profiles/:id', async (req, res, next) => {
    const profile = findProfile(req)
    if (!profile) return next()
    render(res, 'profiles/detail.njk', await detailContext(profile, req))
  })

  async function detailContext(profile, req) {
    const avatarFile = avatar.bind(profile)
    const documentFile = document.bind(profile)
    const filename = profile.document_name || (documentFile.name && path.posix.basename(documentFile.name))
    return {
      profile,
      flash: req.query.created ? 'Profile created.' : req.query.replaced ? 'Avatar replaced.' : undefined,
      avatar: avatarFile.name && {
        name: avatarFile.name,
        url: await avatarFile.variantUrl('large'),
        originalUrl: await avatarFile.url(),
        width: avatarFile.width,
        height: avatarFile.height,
        size: await avatarFile.size().catch(() => undefined),
      },
      // A fresh signed link on every view: it stops working after DOCUMENT_LINK_SECONDS.
      document: documentFile.name && {
        filename,
        url: await documentFile.url({ expiresIn: DOCUMENT_LINK_SECONDS, download: filename }),
        expiresIn: DOCUMENT_LINK_SECONDS,
      },
    }
  }

  app.post('/profiles/:id/avatar', async (req, res, next) => {
    const profile = findProfile(req)
    if (!profile) return next()
    const previous = profile.avatar
    let files
    try {
      let fields
      ;({ files, fields } = await receiveUpload(req, { files: { avatar: avatar.bind(profile) } }))
      if (direct && fields.avatar_upload) {
        await confirmDirect(fields, profile, ['avatar'])
        files = { avatar: { name: profile.avatar } }
      }
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      return render(res, 'profiles/detail.njk', { ...(await detailContext(db.get(profile.id), req)), errors: messagesByField(err) }, 400)
    }
    if (!files.avatar)
      return render(res, 'profiles/detail.njk', { ...(await detailContext(profile, req)), errors: { avatar: ['Choose an avatar image'] } }, 400)
    db.setAvatar(profile.id, profile)
    // The old file goes only once the row points at the new one (rather than
    // the field's deleteOnReplace, which deletes on save): a crash in between
    // leaves an orphan file, never a profile whose avatar is gone.
    if (previous && previous !== profile.avatar) await avatar.bind(profile).deleteStored(previous)
    res.redirect(303, `/profiles/${profile.id}?replaced=1`)
  })

  app.post('/profiles/:id/delete', async (req, res, next) => {
    const profile = findProfile(req)
    if (!profile) return next()
    // Files first: deleting a missing file is not an error, so a retry after a failure here finishes the job.
    await Promise.all([avatar.bind(profile).delete(), document.bind(profile).delete()])
    db.remove(profile.id)
    res.redirect(303, `/?deleted=${encodeURIComponent(profile.name)}`)
  })

  app.use((req, res) => res.status(404).type('text').send('Not found'))
  app.use((err, req, res, _next) => {
    console.error(err)
    res
      .status(500)
      .type('text')
      .send(`Server error: ${err.code ?? err.name}`)
  })
  return app
}
