import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Storage } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import { S3Storage } from '@stowage/s3'
import { s3Storages, s3TestOptions } from '../../../test/s3.js'
import { runCollectstaticSuite } from './testing/collectstatic-suite.js'
import { collectstatic, RECORD_CHANGES_NAME } from './collectstatic.js'
import { createFinders } from './finders.js'
import { listDeploys } from './deploy-history.js'
import { ManifestStaticStorage } from './manifest-static-storage.js'
import { writeAssetTree } from './testing/asset-tree.js'
import { runStaticExtrasSuite } from './testing/static-extras-suite.js'

// Each test collects under its own random key prefix of the shared test bucket.
const create = s3Storages('collectstatic')
runCollectstaticSuite({ name: 'S3Storage', create })
runStaticExtrasSuite({
  name: 'S3Storage',
  create,
  // What the bucket answers a client with: the headers stored with the object.
  headers: async (storage: Storage, name: string) => {
    const res = await fetch(await storage.url(name))
    await res.body?.cancel()
    if (!res.ok) throw new Error(`GET ${name}: ${res.status}`)
    const h = (k: string) => res.headers.get(k) ?? undefined
    return { cacheControl: h('cache-control'), contentEncoding: h('content-encoding'), contentType: h('content-type') }
  },
  // The gateway decodes the URL's path once: the key it serves is the name the URL was built from.
  fetchText: async (storage: Storage, name: string) => {
    const res = await fetch(await storage.url(name))
    if (!res.ok) throw new Error(`GET ${name}: ${res.status}`)
    return res.text()
  },
})

describe('collectstatic to a public-read bucket', () => {
  it('keeps the run record and the deploy history private while the assets are public', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'stowage-public-'))
    const inner = new S3Storage(s3TestOptions({ location: randomPrefix('collectstatic-public'), defaultAcl: 'public-read', querystringAuth: false }))
    try {
      await writeAssetTree(dir, { 'static/css/app.css': 'body { color: red }\n' })
      const storage = new ManifestStaticStorage({ storage: inner })
      expect((await collectstatic({ storage, finders: createFinders({ root: dir, dirs: ['static'], packages: false }) })).errors).toEqual([])
      const hashed = (await storage.loadManifest())!.paths['css/app.css']!
      const anonymous = async (name: string) => (await fetch(await inner.url(name))).status
      expect(await anonymous(hashed)).toBe(200)
      expect(await anonymous('css/app.css')).toBe(200)
      expect(await anonymous('.stowage-collectstatic.json')).toBe(403)
      expect(await anonymous((await listDeploys(inner))[0]!)).toBe(403)
      // A re-run after a change saves the record's changes beside it: private too.
      await writeFile(path.join(dir, 'static/css/app.css'), 'body { color: blue }\n')
      expect((await collectstatic({ storage, finders: createFinders({ root: dir, dirs: ['static'], packages: false }) })).errors).toEqual([])
      expect(await inner.exists(RECORD_CHANGES_NAME)).toBe(true)
      expect(await anonymous(RECORD_CHANGES_NAME)).toBe(403)
      expect(await anonymous((await storage.loadManifest())!.paths['css/app.css']!)).toBe(200)
    } finally {
      inner.client.destroy()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
