import { randomPrefix } from '@stowage/core/testing'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../../../test/s3.js'
import { runCollectstaticSuite } from './testing/collectstatic-suite.js'

// Each test collects under its own random key prefix of the shared test bucket.
runCollectstaticSuite({
  name: 'S3Storage',
  create: () => new S3Storage(s3TestOptions({ location: randomPrefix('collectstatic') })),
})
