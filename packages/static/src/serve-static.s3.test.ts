import { randomPrefix } from '@stowage/core/testing'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../../../test/s3.js'
import { runServeCompressedSuite } from './testing/serve-compressed-suite.js'

// serveStatic in front of a bucket: the variants are read back from S3 as stored.
runServeCompressedSuite({ name: 'S3Storage', create: () => new S3Storage(s3TestOptions({ location: randomPrefix('serve-static') })) })
