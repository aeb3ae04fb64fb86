import { randomPrefix } from '@stowage/core/testing'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../../../test/s3.js'
import { runCleanMediaSuite } from './testing/clean-media-suite.js'

// Each test works under its own random key prefix of the shared test bucket.
runCleanMediaSuite({ name: 'S3Storage', create: () => new S3Storage(s3TestOptions({ location: randomPrefix('clean-media') })) })
