import { randomPrefix } from '@stowage/core/testing'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../../../test/s3.js'
import { runServeCompressedSuite } from './testing/serve-compressed-suite.js'

// serveStatic in front of a bucket: the variants are read back from S3 as stored.
runServeCompressedSuite({ name: 'S3Storage', create: () => new S3Storage(s3TestOptions({ location: randomPrefix('serve-static') })) })
// Variants stored with their Content-Encoding (for a CDN) are served as the same bytes: the SDK does not decode them.
runServeCompressedSuite({
  name: 'S3Storage, variants stored with Content-Encoding',
  create: () => new S3Storage(s3TestOptions({ location: randomPrefix('serve-static-ce') })),
  compress: { contentEncoding: true },
})
