// The profiles web application: Express routes over a SQLite table whose
// file columns are Stowage fields. Nothing here knows which backend stores
// the files; stowage.config.js (plus STOWAGE_* environment variables) decides.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import express from 'express'
import nunjucks from 'nunjucks'
import { storages } from '@stowage/core'
import { avatar, document, DOCUMENT_LINK_SECONDS, limits } from './profile.js'
import { receiveUpload, serveMedia, serveStaticDev, StaticExtension } from './placeholders.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const APP_ROOT = path.resolve(here, '..')
const NAME_MAX = 100

/** Storage class names shown in the page header, so one can see where files go. */
function describeBackends(production) {
  const kind = (alias) => {
    const s = storages.get(alias)
    return s.storage ? `${s.constructor.name}(${s.storage.constructor.name})` : s.constructor.name
  }
  return { media: kind('default'), private: kind('private'), static: production ? kind('staticfiles') : 'finders (development)' }
}

/**
 * Builds the Express application.
 * @param {object} options
 * @param {ReturnType<import('./db.js').openDatabase>} options.db the profile repository
 * @param {import('@stowage/core').StowageConfig} options.config the loaded Stowage configuration (storages must be configured)
 * @param {boolean} [options.production] serve collected static files (after `stowage collectstatic`) instead of the finders
 * @returns the Express app
 */
export function createApp({ db, config, production = false }) {
  const app = express()
  app.disable('x-powered-by')
  const backend = describeBackends(production)

  const env = nunjucks.configure(path.join(APP_ROOT, 'templates'), { autoescape: true, throwOnUndefined: false, noCache: !production })
  const staticDirs = (config.staticfiles?.dirs ?? []).map((d) => path.resolve(config.root ?? APP_ROOT, Array.isArray(d) ? d[1] : d))
  const staticStorage = storages.get('staticfiles')
  env.addExtension('static', new StaticExtension((name) => (production ? staticStorage.url(name) : `/static/${name}`)))
  app.engine('njk', env.render.bind(env))
  app.set('view engine', 'njk')
  app.set('views', path.join(APP_ROOT, 'templates'))

  // Static files: straight from the source folders in development; in
  // production from what `stowage collectstatic` stored (when its URLs point
  // back at this app; on S3 or a CDN the browser fetches them from there).
  app.use('/static', production ? serveMedia(staticStorage, { immutable: true }) : serveStaticDev(staticDirs))
  // Media served by the app itself only when a storage's URLs point back at it (local disk).
  app.use('/media', serveMedia(storages.get('default')))
  app.use('/private-media', serveMedia(storages.get('private'), { signed: true, secret: config.storages.private?.options?.signingSecret }))

  const render = (res, view, ctx, status = 200) => res.status(status).render(view, { backend, limits, errors: {}, values: {}, ...ctx })
  const findProfile = (req) => {
    const id = Number(req.params.id)
    return Number.isSafeInteger(id) ? db.get(id) : undefined
  }
  const avatarUrl = (row) => (row.avatar ? avatar.bind(row).url() : undefined)

  app.get('/', async (req, res) => {
    const profiles = await Promise.all(db.all().map(async (p) => ({ ...p, avatarUrl: await avatarUrl(p) })))
    render(res, 'profiles/list.njk', { profiles, flash: req.query.deleted ? `Deleted ${req.query.deleted}.` : undefined })
  })

  app.get('/profiles/new', (req, res) => render(res, 'profiles/new.njk'))

  app.post('/profiles', async (req, res) => {
    const record = { name: '', avatar: null, avatar_width: null, avatar_height: null, document: null, document_name: '' }
    const { values, files, errors } = await receiveUpload(req, record, { avatar, document })
    const name = (values.name ?? '').trim()
    if (!name) errors.name = ['A name is required']
    else if (name.length > NAME_MAX) errors.name = [`At most ${NAME_MAX} characters`]
    if (!files.avatar && !errors.avatar) errors.avatar = ['Choose an avatar image']
    if (Object.keys(errors).length) {
      // Nothing half-done: files that passed are removed when the form as a whole is refused.
      await Promise.all(Object.values(files).map(({ file }) => file.delete()))
      return render(res, 'profiles/new.njk', { errors, values: { name } }, 400)
    }
    record.name = name
    if (files.document) record.document_name = path.basename(files.document.filename)
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
    return {
      profile,
      flash: req.query.created ? 'Profile created.' : req.query.replaced ? 'Avatar replaced.' : undefined,
      avatar: avatarFile.name && {
        name: avatarFile.name,
        url: await avatarFile.url(),
        width: avatarFile.width,
        height: avatarFile.height,
        size: await avatarFile.size().catch(() => undefined),
      },
      document: documentFile.name && {
        filename: profile.document_name || path.posix.basename(documentFile.name),
        url: await documentFile.url({ expiresIn: DOCUMENT_LINK_SECONDS, download: profile.document_name || path.posix.basename(documentFile.name) }),
        expiresIn: DOCUMENT_LINK_SECONDS,
      },
    }
  }

  app.post('/profiles/:id/avatar', async (req, res, next) => {
    const profile = findProfile(req)
    if (!profile) return next()
    const previous = avatar.bind(profile).name
    const { files, errors } = await receiveUpload(req, profile, { avatar })
    if (!files.avatar && !errors.avatar) errors.avatar = ['Choose an avatar image']
    if (errors.avatar) return render(res, 'profiles/detail.njk', { ...(await detailContext(db.get(profile.id), req)), errors }, 400)
    db.setAvatar(profile.id, profile)
    // The old file goes only once the row points at the new one (rather than
    // the field's deleteOnReplace, which deletes on save): a crash in between
    // leaves an orphan file, never a profile whose avatar is gone.
    if (previous && previous !== profile.avatar) await avatar.storage.delete(previous)
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
    res.status(500).type('text').send(`Server error: ${err.code ?? err.name}`)
  })
  return app
}
