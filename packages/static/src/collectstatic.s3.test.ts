import type { Storage } from '@stowage/core'
import { randomPrefix } from '@stowage/core/testing'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../../../test/s3.js'
import { runCollectstaticSuite } from './testing/collectstatic-suite.js'
import { runStaticExtrasSuite } from './testing/static-extras-suite.js'

// Each test collects under its own random key prefix of the shared test bucket.
const create = () => new S3Storage(s3TestOptions({ location: randomPrefix('collectstatic') }))
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
})
