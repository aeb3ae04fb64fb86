/**
 * Every hostile SVG of the corpus, stored as is (as if it had slipped past
 * validation), opened by headless Chromium from the URL an application
 * hands out: `serveMedia` on local disk, and a presigned URL of an S3
 * bucket. No payload may run. Each payload announces itself (a request to
 * `…pwned?<marker>`, a dialog, or `document.title` set to `pwned <marker>`),
 * and two controls serve the same bytes inline without protection to prove
 * the detector sees a payload that runs.
 */
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hostileSvgs, randomPrefix, type SvgCase } from '@stowage/core/testing'
import { serveMedia } from '@stowage/http'
import { FileSystemStorage } from '@stowage/local'
import { S3Storage } from '@stowage/s3'
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { s3TestOptions } from '../s3.js'
import { launchChromium } from './chromium.js'

const corpus = hostileSvgs()
let browser: Browser
let context: BrowserContext
let server: Server
let origin = ''
let root = ''
let local: FileSystemStorage
let s3: S3Storage
let s3Inline: S3Storage
const controls = new Map<string, Buffer>()

beforeAll(async () => {
  browser = await launchChromium()
  context = await browser.newContext({ acceptDownloads: true })
  root = await mkdtemp(join(tmpdir(), 'stowage-svg-'))
  local = new FileSystemStorage({ location: root, baseUrl: '/media/' })
  const media = serveMedia({ storage: local, prefix: '/media/' })
  server = createServer((req, res) => {
    if (req.url?.startsWith('/control/')) {
      // No protection at all: what a naive static server or bucket does.
      const bytes = controls.get(req.url.slice('/control/'.length))
      res.writeHead(bytes ? 200 : 404, { 'content-type': 'image/svg+xml' })
      return void res.end(bytes)
    }
    if (req.url?.startsWith('/media/')) return void media(req, res, () => res.writeHead(404).end())
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  const location = randomPrefix('svg-e2e')
  s3 = new S3Storage(s3TestOptions({ location }))
  s3Inline = new S3Storage(s3TestOptions({ location, inlineTypes: ['image/svg+xml'] }))
}, 300_000)

afterAll(async () => {
  await browser?.close()
  await new Promise((resolve) => server?.close(resolve))
  s3?.client.destroy()
  s3Inline?.client.destroy()
  if (root) await rm(root, { recursive: true, force: true })
})

/** What a page did while Chromium opened `url`: the payload signals it saw, and how the response was treated. */
async function open(url: string): Promise<{ signals: string[]; outcome: 'page' | 'download' }> {
  const page = await context.newPage()
  const signals: string[] = []
  page.on('request', (r) => {
    if (r.url().includes('pwned')) signals.push(`request ${r.url()}`)
  })
  page.on('dialog', (d) => {
    signals.push(`dialog ${d.message()}`)
    void d.dismiss()
  })
  let outcome: 'page' | 'download' = 'page'
  try {
    // 'load' waits for scripts, onload handlers and image errors: a payload has run by then if it can.
    await page.goto(url, { waitUntil: 'load' })
    const title = await page.title()
    if (title.includes('pwned')) signals.push(`title ${title}`)
  } catch (err) {
    if (!/Download is starting|ERR_ABORTED/.test(String(err))) throw err
    outcome = 'download'
  }
  await page.close()
  return { signals, outcome }
}

// Each case has its own page and its own stored file: they run side by side.
describe.concurrent('hostile SVGs opened in Chromium from their URLs', () => {
  it('the detector sees a payload that runs (controls: the same bytes served inline, unprotected)', async () => {
    const script = corpus.find((c) => c.marker === 'script')!
    controls.set(script.filename, script.bytes)
    const inline = await open(`${origin}/control/${script.filename}`)
    expect(inline.outcome).toBe('page')
    expect(inline.signals.length).toBeGreaterThan(0)
    // A bucket told to serve SVG inline runs it too: the attachment default is what protects.
    const name = await s3Inline.save(`control/${script.filename}`, script.bytes, { contentType: 'image/svg+xml' })
    const fromBucket = await open(await s3Inline.url(name))
    expect(fromBucket.signals.length).toBeGreaterThan(0)
  })

  it.each(corpus.map((c): [string, SvgCase] => [c.marker, c]))('%s: runs nothing from serveMedia on local disk', async (_marker, svg) => {
    const name = await local.save(`hostile/${svg.filename}`, svg.bytes)
    const { signals } = await open(`${origin}${await local.url(name)}`)
    expect(signals).toEqual([])
  })

  it.each(corpus.map((c): [string, SvgCase] => [c.marker, c]))('%s: runs nothing from an S3 presigned URL, and downloads', async (_marker, svg) => {
    const name = await s3.save(`hostile/${svg.filename}`, svg.bytes, { contentType: 'image/svg+xml' })
    const { signals, outcome } = await open(await s3.url(name))
    expect(signals).toEqual([])
    expect(outcome).toBe('download')
  })
})
