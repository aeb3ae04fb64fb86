/**
 * End-to-end: the profiles example, started as its own process and driven in
 * headless Chromium through upload → view → replace → private download →
 * delete, on the local-disk default and on S3 (switched by environment
 * variables only). A full-page screenshot per backend is kept under
 * test-artifacts/.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, StorageRegistry } from '@stowage/core'
import { listAll as everyFile, randomPrefix } from '@stowage/core/testing'
import { APP_DIR, collectStatic, s3AppEnv, startApp, type RunningApp } from './app-process.js'
import { launchChromium } from './chromium.js'
import { allowBrowserUploads, buildBrowserClient } from './direct-upload-setup.js'
import { colourPng, samplePdf } from './fixtures.js'
import { exifHasGps, phonePhoto } from '../../packages/images/src/test-support/fixtures.js'
import sharp from 'sharp'

const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test-artifacts')

interface Backend {
  name: string
  /** Environment for the app (and for the test's own view of its storages). */
  env(dir: string): NodeJS.ProcessEnv
  /** Run `stowage collectstatic` and serve the collected, hashed files (NODE_ENV=production). */
  collect: boolean
  /** A signed download URL carries this query parameter. */
  signatureParam: string
  /** Seconds a signed download URL had left when the app served it at `servedAt` (ms, by the app's own clock), read from the URL. */
  lifetime(url: URL, servedAt: number): number
  /** What the stylesheet's URL looks like. */
  stylesheet(env: NodeJS.ProcessEnv): RegExp
}

const LOCAL: Backend = {
  name: 'local',
  env: (dir) => ({
    STOWAGE_DEFAULT_LOCATION: path.join(dir, 'media'),
    STOWAGE_PRIVATE_LOCATION: path.join(dir, 'private-media'),
    STOWAGE_STATICFILES_LOCATION: path.join(dir, 'staticfiles'),
    PROFILES_DB: path.join(dir, 'profiles.sqlite'),
  }),
  collect: false,
  signatureParam: 'signature',
  // `expires` is an absolute Unix time, in seconds.
  lifetime: (url, servedAt) => Number(url.searchParams.get('expires')) - servedAt / 1000,
  stylesheet: () => /^\/static\/css\/app\.css$/,
}

// Exactly the variables README.md documents for running the example on S3.
function s3Env(dir: string): NodeJS.ProcessEnv {
  return {
    ...s3AppEnv(randomPrefix('e2e'), { DEFAULT: 'media', PRIVATE: 'private', STATICFILES: 'static' }),
    STOWAGE_STATICFILES_QUERYSTRING_AUTH: 'false',
    STOWAGE_STATICFILES_DEFAULT_ACL: 'public-read',
    NODE_ENV: 'production',
    PROFILES_VARIANT_SECRET: 'e2e-variant-secret-0123456789',
    PROFILES_DB: path.join(dir, 'profiles.sqlite'),
  }
}

const S3: Backend = {
  name: 's3',
  env: s3Env,
  collect: true,
  signatureParam: 'X-Amz-Signature',
  // Signed at X-Amz-Date (20261129T185500Z) for X-Amz-Expires seconds.
  lifetime: (url, servedAt) => {
    const signed = Date.parse((url.searchParams.get('X-Amz-Date') ?? '').replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'))
    return (signed - servedAt) / 1000 + Number(url.searchParams.get('X-Amz-Expires'))
  },
  stylesheet: (env) =>
    new RegExp(`^${env.STOWAGE_STATICFILES_ENDPOINT}/${env.STOWAGE_STATICFILES_BUCKET}/${env.STOWAGE_STATICFILES_LOCATION}/css/app\\.[0-9a-f]{12}\\.css$`),
}

let browser: Browser
// Generous: on a fresh machine this installs Debian's chromium package first.
const BROWSER_SETUP_TIMEOUT = 600_000
beforeAll(async () => {
  browser = await launchChromium()
  await mkdir(ARTIFACTS, { recursive: true })
}, BROWSER_SETUP_TIMEOUT)
afterAll(async () => {
  await browser?.close()
})

// The app's S3 client finds its keys in AWS_* variables (the SDK's default
// chain, from its own environment); this process's environment has none, so
// its handle gets them as explicit options.
function credentialsFor(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!env.AWS_ACCESS_KEY_ID) return {}
  const credentials = JSON.stringify({ accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY })
  return Object.fromEntries(['DEFAULT', 'PRIVATE', 'STATICFILES'].map((alias) => [`STOWAGE_${alias}_CREDENTIALS`, credentials]))
}

function runFlow(backend: Backend): void {
  describe(`profiles example on ${backend.name}`, () => {
    let dir: string
    let env: NodeJS.ProcessEnv
    let app: RunningApp
    // The test's own handle on the app's storages, to check what is really stored.
    const registry = new StorageRegistry()

    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), `stowage-e2e-${backend.name}-`))
      env = backend.env(dir)
      await registry.configure(await loadConfig({ cwd: APP_DIR, env: { ...process.env, ...env, ...credentialsFor(env) } }))
      if (backend.collect) await collectStatic(env)
      // On S3 the forms upload straight to the bucket (see direct-uploads.e2e.test.ts).
      if (backend.name === 's3') await Promise.all([buildBrowserClient(), allowBrowserUploads()])
      app = await startApp(env)
    })
    afterAll(async () => {
      await app?.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('uploads, shows, replaces, downloads privately and deletes', { timeout: 90_000 }, async () => {
      const page = await browser.newPage()
      const pageErrors: string[] = []
      page.on('pageerror', (e) => pageErrors.push(e.message))
      // The browser's side of the story, printed when the flow fails.
      const network: string[] = []
      page.on('requestfinished', (r) => void r.response().then((res) => network.push(`${r.method()} ${r.url()} → ${res?.status()}`)))
      page.on('requestfailed', (r) => network.push(`${r.method()} ${r.url()} ✗ ${r.failure()?.errorText}`))
      try {
        await flow(page, app, registry, backend, env)
      } catch (err) {
        await page.screenshot({ path: path.join(ARTIFACTS, `profiles-${backend.name}-failure.png`), fullPage: true }).catch(() => {})
        throw new Error(`${(err as Error).message}\n--- browser requests ---\n${network.join('\n')}\n--- app output ---\n${app.output()}`, { cause: err })
      } finally {
        await page.close()
      }
      expect(pageErrors).toEqual([])
    })
  })
}

async function flow(page: Page, app: RunningApp, registry: StorageRegistry, backend: Backend, env: NodeJS.ProcessEnv): Promise<void> {
  const media = registry.get('default')
  const privateMedia = registry.get('private')
  const pdf = samplePdf('Private document of Ada Lovelace')

  // Home page: the stylesheet, the script and the logo all load through {% static %}.
  await page.goto(app.url)
  expect(await page.locator('link[rel=stylesheet]').getAttribute('href')).toMatch(backend.stylesheet(env))
  await expect.poll(() => page.evaluate(() => document.documentElement.dataset.js)).toBe('ready')
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(246, 247, 251)')
  expect(await page.locator('header img.logo').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0)

  // Invalid uploads are refused with the reason on the form, and nothing is kept.
  await page.getByRole('link', { name: 'New profile' }).click()
  const refused = async (avatar: { name: string; mimeType: string; buffer: Buffer }, message: RegExp) => {
    await page.locator('#name').fill('Ada Lovelace')
    await page.locator('#avatar').setInputFiles(avatar)
    await page.locator('#document').setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf', buffer: pdf })
    await page.getByRole('button', { name: 'Create profile' }).click()
    await expect.poll(() => page.locator('#avatar-errors').textContent()).toMatch(message)
    expect(await page.locator('#name').inputValue()).toBe('Ada Lovelace')
  }
  await refused({ name: 'avatar.png', mimeType: 'image/png', buffer: Buffer.from('this is not an image at all, just text') }, /not a recognised type/)
  await refused({ name: 'tiny.png', mimeType: 'image/png', buffer: colourPng(8, 8, [200, 30, 30]) }, /8 pixels wide, less than 16/)
  await refused({ name: 'huge.png', mimeType: 'image/png', buffer: colourPng(32, 32, [200, 30, 30], 2 * 1024 * 1024) }, /larger than the limit/)
  // The document was valid each time, but the form as a whole was refused: it must not linger.
  expect(await listAll(privateMedia, '')).toEqual([])
  expect(await listAll(media, '')).toEqual([])

  // Upload: avatar (stored under avatars/YYYY/MM/DD/) and private document.
  await page.locator('#avatar').setInputFiles({ name: 'ada.png', mimeType: 'image/png', buffer: colourPng(64, 64, [220, 60, 60]) })
  await page.locator('#document').setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf', buffer: pdf })
  // The upload's day is taken during the request: either end of it, so a run across midnight (UTC) passes.
  const days = [new Date()]
  await page.getByRole('button', { name: 'Create profile' }).click()
  await page.waitForURL(/\/profiles\/\d+/)
  days.push(new Date())
  expect(await page.getByRole('status').textContent()).toContain('Profile created.')

  // View: the avatar is displayed as its large variant, made on this first request through a signed /variants/ URL.
  const avatarImg = page.locator('#avatar-image')
  const firstName = (await avatarImg.getAttribute('data-name'))!
  const day = `(${days.map((d) => d.toISOString().slice(0, 10).replace(/-/g, '/')).join('|')})`
  expect(firstName).toMatch(new RegExp(`^avatars/${day}/ada(_[A-Za-z0-9]{7})?\\.png$`))
  expect(await avatarImg.getAttribute('src')).toMatch(/^\/variants\/avatars\/.+\?v=large&w=1600&f=avif&sig=/)
  await expect.poll(() => avatarImg.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(64)
  expect(await media.exists(firstName)).toBe(true)
  // The eager thumbnail was stored with the upload, the large one on the first view.
  await expect
    .poll(async () => (await media.listdir(`${firstName}.variants`)).files)
    .toEqual([expect.stringMatching(/^large-[0-9a-f]{12}\.avif$/), 'thumb.webp'])

  // A refused replacement (a PDF calling itself .png) leaves the current avatar in place.
  await page.locator('#avatar').setInputFiles({ name: 'sneaky.png', mimeType: 'image/png', buffer: pdf })
  await page.getByRole('button', { name: 'Replace avatar' }).click()
  await expect.poll(() => page.locator('#avatar-errors').textContent()).toMatch(/application\/pdf/)
  expect(await avatarImg.getAttribute('data-name')).toBe(firstName)
  expect((await listAll(media, '')).filter((n) => !n.includes('.variants/'))).toEqual([firstName])

  // Replace with a phone photo lying on its side (EXIF Orientation 6) that carries GPS coordinates:
  // it shows upright, the stored file has no EXIF at all, and the old file goes with its variants.
  const photo = await phonePhoto(80, 40)
  expect(exifHasGps((await sharp(photo).metadata()).exif)).toBe(true)
  await page.locator('#avatar').setInputFiles({ name: 'ada.jpg', mimeType: 'image/jpeg', buffer: photo })
  await page.getByRole('button', { name: 'Replace avatar' }).click()
  await page.waitForURL(/replaced=1/)
  const secondName = (await avatarImg.getAttribute('data-name'))!
  expect(secondName).not.toBe(firstName)
  await expect.poll(() => avatarImg.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([40, 80])
  const storedMeta = await sharp(Buffer.from(await media.read(secondName))).metadata()
  expect([storedMeta.width, storedMeta.height, storedMeta.exif, exifHasGps(storedMeta.exif)]).toEqual([40, 80, undefined, false])
  expect(await media.exists(secondName)).toBe(true)
  expect(await media.exists(firstName)).toBe(false)
  expect((await listAll(media, '')).filter((n) => !n.startsWith(secondName))).toEqual([])

  // The list page shows the square thumbnail stored with the upload.
  await page.goto(app.url)
  const thumb = page.locator('.profiles img.avatar')
  expect(await thumb.getAttribute('src')).toContain(`${secondName}.variants/thumb.webp`)
  await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([40, 40])
  await page.goBack()

  // Private download: a signed, expiring link gives the exact bytes; without a valid signature it is refused.
  // The page promises a five-minute link (DOCUMENT_LINK_SECONDS), judged by the app's own clock: the Date
  // of the response that carried it (to the second, and Node reuses it for up to a second).
  const served = await page.reload()
  const servedAt = Date.parse(served!.headers().date ?? '')
  expect(servedAt).not.toBeNaN()
  const link = page.locator('#document-link')
  const href = new URL((await link.getAttribute('href'))!, app.url)
  expect(href.searchParams.has(backend.signatureParam)).toBe(true)
  expect(backend.lifetime(href, servedAt)).toBeGreaterThanOrEqual(290)
  expect(backend.lifetime(href, servedAt)).toBeLessThanOrEqual(301)
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
  expect(download.suggestedFilename()).toBe('notes.pdf')
  expect(Buffer.from(await readFile((await download.path())!)).equals(pdf)).toBe(true)
  const tampered = new URL(href)
  const signature = href.searchParams.get(backend.signatureParam)!
  // A different first character for certain (hex or base64url signatures alike).
  tampered.searchParams.set(backend.signatureParam, (signature.startsWith('a') ? 'b' : 'a') + signature.slice(1))
  expect(tampered.href).not.toBe(href.href)
  expect((await page.request.get(tampered.href)).status()).toBe(403)
  const unsigned = new URL(href.pathname, href)
  expect((await page.request.get(unsigned.href)).status()).toBe(403)

  await page.screenshot({ path: path.join(ARTIFACTS, `profiles-${backend.name}.png`), fullPage: true })

  // Delete: the profile and both files go.
  const documentName = (await listAll(privateMedia, ''))[0]!
  expect(documentName).toMatch(/^documents\/\d{4}\/\d{2}\/notes(_[A-Za-z0-9]{7})?\.pdf$/)
  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Delete profile' }).click()
  await page.waitForURL(/deleted=/)
  expect(await page.getByRole('status').textContent()).toContain('Deleted Ada Lovelace.')
  expect(await page.locator('.profiles li').count()).toBe(0)
  expect(await media.exists(secondName)).toBe(false)
  expect(await listAll(media, '')).toEqual([])
  expect(await privateMedia.exists(documentName)).toBe(false)
}

/** @returns every file name under `dir`, recursively. */
async function listAll(storage: ReturnType<StorageRegistry['get']>, dir: string): Promise<string[]> {
  // Direct uploads leave one-shot confirmation markers (cleanupPendingUploads removes them); anything else pending is a leak.
  return (await everyFile(storage, dir)).filter((n) => !/^\.stowage-pending\/[0-9a-f]{32}\.done$/.test(n))
}

runFlow(LOCAL)
runFlow(S3)
