/**
 * End-to-end: the profiles example on S3 with direct uploads in Chromium. A
 * document over the (lowered) multipart threshold goes up in parts with a
 * progress bar; a cancelled upload leaves nothing in the bucket (no object,
 * no incomplete multipart upload); an interrupted one resumes by sending only
 * the missing parts. Media and documents are on S3; static files come from
 * the finders (no collectstatic, to keep this file quick).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import type { Browser, Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomPrefix } from '@stowage/core/testing'
import { s3TestEnv } from '../s3.js'
import { s3AppEnv, startApp, type RunningApp } from './app-process.js'
import { launchChromium } from './chromium.js'
import { allowBrowserUploads, buildBrowserClient } from './direct-upload-setup.js'
import { colourPng, samplePdf } from './fixtures.js'

const MIB = 1024 * 1024
let browser: Browser
let app: RunningApp
let dir: string
let client: S3Client
const prefix = randomPrefix('e2e-direct')
const s3 = s3TestEnv()

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stowage-e2e-direct-'))
  const env = {
    ...s3AppEnv(prefix, { DEFAULT: 'media', PRIVATE: 'private' }),
    STOWAGE_STATICFILES_LOCATION: path.join(dir, 'staticfiles'),
    PROFILES_DB: path.join(dir, 'profiles.sqlite'),
    // Documents over 5 MiB go up in 5 MiB parts (S3's smallest).
    PROFILES_MULTIPART_THRESHOLD: String(5 * MIB),
  }
  client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  })
  ;[browser, app] = await Promise.all([launchChromium(), Promise.all([buildBrowserClient(), allowBrowserUploads()]).then(() => startApp(env))])
}, 600_000)
afterAll(async () => {
  await browser?.close()
  await app?.stop()
  client?.destroy()
  await rm(dir, { recursive: true, force: true })
})

/** What the bucket holds under this test's prefix: objects (confirmation markers aside) and incomplete multipart uploads. */
async function bucket(): Promise<{ keys: string[]; multipart: string[] }> {
  const Prefix = `${prefix}/`
  const [objects, uploads] = await Promise.all([
    client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix })),
    client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix })),
  ])
  return {
    keys: (objects.Contents ?? [])
      .map((o) => o.Key!.slice(Prefix.length))
      .filter((k) => !/\.stowage-pending\/[0-9a-f]{32}\.done$/.test(k))
      .sort(),
    multipart: (uploads.Uploads ?? []).map((u) => u.Key!.slice(Prefix.length)),
  }
}

const partOf = (r: Request) => Number(new URL(r.url()).searchParams.get('partNumber') ?? 0)
const bigPdf = (mib: number) => Buffer.concat([samplePdf('A big private document'), Buffer.alloc(mib * MIB, 0x20)])
/** Big files go to the browser from disk: a buffer that size is slow over the DevTools protocol. */
async function onDisk(name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name)
  await writeFile(file, bytes)
  return file
}

async function openForm(): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(`${app.url}profiles/new`)
  await expect.poll(() => page.evaluate(() => document.documentElement.dataset.js)).toBe('ready')
  await page.locator('#name').fill('Grace Hopper')
  await page.locator('#avatar').setInputFiles({ name: 'grace.png', mimeType: 'image/png', buffer: colourPng(32, 32, [10, 120, 60]) })
  return page
}

describe('profiles example on S3: direct uploads from Chromium', () => {
  it('a cancelled multi-part upload leaves nothing in the bucket', { timeout: 60_000 }, async () => {
    const page = await openForm()
    try {
      await page.locator('#document').setInputFiles(await onDisk('big.pdf', bigPdf(12)))
      // Part 2 never gets an answer, so the upload is mid-way when the user cancels.
      let stalled = false
      await page.route(/partNumber=2/, () => void (stalled = true))
      await page.getByRole('button', { name: 'Create profile' }).click()
      await expect.poll(() => stalled, { timeout: 15_000 }).toBe(true)
      await page.getByRole('button', { name: 'Cancel upload' }).click()
      await expect.poll(() => page.locator('form').getAttribute('data-upload'), { timeout: 10_000 }).toBe('cancelled')
      expect(await page.locator('.upload-text').textContent()).toBe('Upload cancelled.')
      // The abort requests are on their way; the bucket empties.
      await expect.poll(bucket, { timeout: 10_000 }).toEqual({ keys: [], multipart: [] })
    } finally {
      await page.close()
    }
  })

  it('a document in parts, interrupted, resumes with only the missing parts, then shows on the profile', { timeout: 90_000 }, async () => {
    const page = await openForm()
    try {
      const pdf = bigPdf(12) // 3 parts: 5, 5 and 2 MiB
      await page.locator('#document').setInputFiles(await onDisk('big.pdf', pdf))
      const parts: number[] = []
      page.on('request', (r) => void (r.method() === 'PUT' && partOf(r) && parts.push(partOf(r))))
      // The network fails for part 3 whatever the retries: the upload stops, resumable.
      await page.route(/partNumber=3/, (route) => route.abort('connectionreset'))
      await page.getByRole('button', { name: 'Create profile' }).click()
      await expect.poll(() => page.locator('form').getAttribute('data-upload'), { timeout: 20_000 }).toBe('failed')
      expect(await page.locator('#document-errors').textContent()).toMatch(/Submit again to resume/)
      expect(parts.filter((p) => p !== 3).sort()).toEqual([1, 2])
      expect((await bucket()).multipart).toHaveLength(1)

      await page.unroute(/partNumber=3/)
      parts.length = 0
      const progress: number[] = []
      await page.exposeFunction('recordProgress', (v: number) => void progress.push(v))
      await page.evaluate(() => {
        const bar = document.querySelector('.upload-progress') as HTMLProgressElement
        new MutationObserver(() => (window as unknown as { recordProgress(v: number): void }).recordProgress(bar.value / bar.max)).observe(bar, {
          attributes: true,
        })
      })
      await page.getByRole('button', { name: 'Create profile' }).click()
      await page.waitForURL(/\/profiles\/\d+\?created=1/)
      // Only the part the server lacked went up again.
      expect(parts).toEqual([3])
      expect(progress.at(-1)).toBe(1)
      const href = (await page.locator('#document-link').getAttribute('href'))!
      const download = await page.request.get(new URL(href, app.url).href)
      expect(Buffer.from(await download.body()).equals(pdf)).toBe(true)
      expect(await page.locator('#document-link').textContent()).toContain('big.pdf')
      const { keys, multipart } = await bucket()
      expect(multipart).toEqual([])
      // Nothing pending is left; the avatar and the document are stored (plus any image variants the app makes).
      expect(keys.filter((k) => k.includes('.stowage-pending'))).toEqual([])
      expect(keys.filter((k) => /^private\/documents\/\d{4}\/\d{2}\/big(_\w{7})?\.pdf$/.test(k))).toHaveLength(1)
      expect(keys.filter((k) => /^media\/avatars\/\d{4}\/\d{2}\/\d{2}\/grace(_\w{7})?\.png$/.test(k))).toHaveLength(1)
    } finally {
      await page.close()
    }
  })
})
