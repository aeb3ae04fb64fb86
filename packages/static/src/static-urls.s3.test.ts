/**
 * Static URLs on S3 come from the bucket, through the storage's own
 * description: no `baseUrl` passed by hand, no proxy through the app.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { randomPrefix } from '@stowage/core/testing'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../../../test/s3.js'
import { createManifest } from './manifest.js'
import { ManifestStaticStorage } from './manifest-static-storage.js'
import { loadStaticUrls } from './static-urls.js'

const made: S3Storage[] = []
afterAll(() => made.forEach((s) => s.client.destroy()))

describe('loadStaticUrls on S3', () => {
  it('links hashed names straight to the public bucket, and the bucket serves them', async () => {
    const bucket = new S3Storage(s3TestOptions({ location: randomPrefix('static-urls'), querystringAuth: false, defaultAcl: 'public-read' }))
    made.push(bucket)
    const storage = new ManifestStaticStorage({ storage: bucket })
    await bucket.save('css/app.0123456789ab.css', 'body { color: teal }', { overwrite: true })
    await storage.saveManifest(createManifest({ 'css/app.css': 'css/app.0123456789ab.css' }))

    const urls = await loadStaticUrls(new ManifestStaticStorage({ storage: bucket }))
    const url = urls.url('css/app.css')
    expect(url).toBe(`${(await bucket.describe()).baseUrl}css/app.0123456789ab.css`)
    expect(url).toMatch(/^http:\/\/.*\/css\/app\.0123456789ab\.css$/)
    const res = await fetch(url)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('body { color: teal }')
  })

  it('falls back to /static/ for a private bucket, whose URLs are presigned one by one', async () => {
    const bucket = new S3Storage(s3TestOptions({ location: randomPrefix('static-urls') }))
    made.push(bucket)
    expect((await loadStaticUrls(bucket, { debug: true })).url('css/app.css')).toBe('/static/css/app.css')
  })
})
