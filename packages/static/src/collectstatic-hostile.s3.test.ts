import { s3Storages } from '../../../test/s3.js'
import { runHostileSourcesSuite } from './testing/hostile-sources-suite.js'

// Each test collects under its own random key prefix of the shared test bucket.
runHostileSourcesSuite({ name: 'S3Storage', create: s3Storages('collectstatic-hostile') })
