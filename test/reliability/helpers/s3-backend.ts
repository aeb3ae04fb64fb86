/**
 * `S3Storage` on the test gateway as a `BackendUnderTest`: under a random
 * key prefix, optionally in a bucket of its own so that "nothing appeared
 * outside the prefix" can be checked against the whole bucket.
 */
import { randomUUID } from 'node:crypto'
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { randomPrefix } from '@stowage/core/testing'
import { S3Storage, ensureBucket } from '@stowage/s3'
import { s3TestOptions } from '../../s3.js'
import type { BackendFactory, BackendUnderTest } from './backends.js'

async function allKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
    for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key)
    token = res.IsTruncated ? res.NextContinuationToken : undefined
  } while (token)
  return keys.sort()
}

/**
 * An S3 backend. With `ownBucket`, a fresh bucket is created (and emptied and
 * removed by `destroy`), and `outside()` reports every key outside the prefix.
 */
export async function createS3Backend(options: { overwrite?: boolean; ownBucket?: boolean } = {}): Promise<BackendUnderTest & { storage: S3Storage }> {
  const location = randomPrefix('rel')
  let storage = new S3Storage(s3TestOptions({ location, overwrite: options.overwrite ?? false }))
  if (options.ownBucket) {
    const bucket = `stowage-rel-${randomUUID().slice(0, 8)}`
    await ensureBucket(storage.client, bucket)
    storage.client.destroy()
    storage = new S3Storage(s3TestOptions({ bucket, location, overwrite: options.overwrite ?? false }))
  }
  const { bucket } = storage.options
  const { client } = storage
  const prefix = `${location}/`
  return {
    storage,
    rawNames: async () => (await allKeys(client, bucket, prefix)).map((k) => k.slice(prefix.length)),
    outside: async () => (options.ownBucket ? (await allKeys(client, bucket)).filter((k) => !k.startsWith(prefix)) : []),
    destroy: async () => {
      try {
        const keys = await allKeys(client, bucket, options.ownBucket ? '' : prefix)
        for (const Key of keys) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key }))
        if (options.ownBucket) await client.send(new DeleteBucketCommand({ Bucket: bucket }))
      } finally {
        client.destroy()
      }
    },
  }
}

/** The S3 backend factory for shared suites (shared bucket, random prefix). */
export const s3Backend: BackendFactory = { name: 'S3Storage', create: (options) => createS3Backend(options) }
