/**
 * Subresource Integrity end to end: collectstatic records each file's
 * sha384, the Nunjucks tags put it on `<script>` and `<link>`, and headless
 * Chromium refuses a hashed file that was changed after the deploy (a
 * tampered CDN or bucket), on local disk and on the S3 server. A control
 * page with the same tags but no integrity runs the tampered files, proving
 * the tampering would otherwise take effect.
 */
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nunjucks from 'nunjucks'
import type { Storage } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import { FileSystemStorage } from '@stowage/local'
import { S3Storage } from '@stowage/s3'
import { addStaticToNunjucks, collectstatic, createFinders, ManifestStaticStorage, serveStatic, StaticUrls } from '@stowage/static'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeAssetTree } from '../../packages/static/src/testing/asset-tree.js'
import { s3TestOptions } from '../s3.js'
import { launchChromium } from './chromium.js'

const PAGE = `<!doctype html><html><head>{% static_stylesheet 'css/app.css' %}</head><body>{% static_script 'js/app.js' %}</body></html>`
const GENUINE = { css: 'body { background-color: rgb(1, 2, 3) }\n', js: 'window.ran = "genuine"\n' }
const TAMPERED = { css: 'body { background-color: rgb(250, 0, 0) }\n', js: 'window.ran = "tampered"\n' }

let browser: Browser
let project = ''
let root = ''
const servers: Server[] = []
const s3s: S3Storage[] = []

beforeAll(async () => {
  browser = await launchChromium()
  project = await mkdtemp(join(tmpdir(), 'stowage-sri-src-'))
  root = await mkdtemp(join(tmpdir(), 'stowage-sri-root-'))
  await writeAssetTree(project, { 'static/css/app.css': GENUINE.css, 'static/js/app.js': GENUINE.js })
}, 300_000)

afterAll(async () => {
  await browser?.close()
  for (const s of servers) s.close()
  for (const s of s3s) s.client.destroy()
  await rm(project, { recursive: true, force: true })
  await rm(root, { recursive: true, force: true })
})

/** Collects into `inner`, serves the page and the files; `integrity: false` renders the control page without it. */
async function deploy(inner: Storage): Promise<{ origin: string; storage: ManifestStaticStorage }> {
  const storage = new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' })
  const summary = await collectstatic({ storage, finders: createFinders({ root: project, dirs: ['static'], packages: false }) })
  expect(summary.errors).toEqual([])
  const manifest = (await storage.loadManifest())!
  const env = (integrity: boolean) =>
    addStaticToNunjucks(
      new nunjucks.Environment(null, { autoescape: true }),
      new StaticUrls({ manifest: integrity ? manifest : { ...manifest, integrity: undefined } }),
    )
  const pages = { '/page': env(true), '/control': env(false) }
  const files = serveStatic({ storage: new ManifestStaticStorage({ storage: inner }) })
  const server = createServer((req, res) => {
    const page = pages[req.url as keyof typeof pages]
    if (!page) return void files(req, res)
    res.setHeader('Content-Type', 'text/html; charset=utf-8')
    res.end(page.renderString(PAGE, {}))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return { origin: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, storage }
}

/** What Chromium did with the page: whether the script ran, the background it applied, and its integrity errors. */
async function open(url: string): Promise<{ ran: unknown; background: string; errors: string[] }> {
  // A new context per visit: no cache from an earlier one (hashed files are served immutable).
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    const errors: string[] = []
    page.on('console', (m) => {
      // (The favicon's 404 is not ours to judge.)
      if (m.type() === 'error' && /integrity/i.test(m.text())) errors.push(m.text())
    })
    await page.goto(url, { waitUntil: 'load' })
    const ran = await page.evaluate(() => (window as unknown as { ran?: string }).ran)
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    return { ran, background, errors }
  } finally {
    await context.close()
  }
}

const backends: Array<[string, () => Promise<Storage>]> = [
  ['FileSystemStorage', async () => new FileSystemStorage({ location: join(root, 'local'), baseUrl: '/static/' })],
  [
    'S3Storage',
    async () => {
      const s3 = new S3Storage(s3TestOptions({ location: randomPrefix('sri-e2e') }))
      s3s.push(s3)
      return s3
    },
  ],
]

describe.each(backends)('Subresource Integrity in Chromium, files on %s', (_name, make) => {
  it('runs the genuine files and refuses tampered ones, which run without integrity', { timeout: 60_000 }, async () => {
    const inner = await make()
    const { origin, storage } = await deploy(inner)
    const genuine = await open(`${origin}/page`)
    expect(genuine).toEqual({ ran: 'genuine', background: 'rgb(1, 2, 3)', errors: [] })

    // Someone changes the deployed hashed files in place (same names, other bytes).
    const manifest = (await storage.loadManifest())!
    await inner.save(manifest.paths['css/app.css']!, TAMPERED.css, { overwrite: true, contentType: 'text/css; charset=utf-8' })
    await inner.save(manifest.paths['js/app.js']!, TAMPERED.js, { overwrite: true, contentType: 'text/javascript; charset=utf-8' })

    const refused = await open(`${origin}/page`)
    expect(refused.ran).toBeUndefined()
    expect(refused.background).toBe('rgba(0, 0, 0, 0)')
    expect(refused.errors).toHaveLength(2)

    const control = await open(`${origin}/control`)
    expect(control).toMatchObject({ ran: 'tampered', background: 'rgb(250, 0, 0)' })
  })
})
