import { randomUUID } from 'node:crypto'
import { DeleteBucketCommand } from '@aws-sdk/client-s3'
import { PermissionDeniedError } from '@stowage/core'
import { describe, expect, it } from 'vitest'
import { s3TestOptions } from '../../../test/s3.js'
import { ensureBucket } from './ensure-bucket.js'
import { S3Storage } from './s3-storage.js'

describe('ensureBucket', () => {
  it('creates a missing bucket once, then reports it exists', async () => {
    const bucket = `stowage-eb-${randomUUID().slice(0, 12)}`
    const { client } = new S3Storage(s3TestOptions({ bucket }))
    try {
      expect(await ensureBucket(client, bucket)).toBe(true)
      expect(await ensureBucket(client, bucket)).toBe(false)
      const storage = new S3Storage(s3TestOptions({ bucket }))
      const name = await storage.save('x.txt', 'x')
      await storage.delete(name)
      storage.client.destroy()
    } finally {
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined)
      client.destroy()
    }
  })

  it('refused credentials are EACCES, not "missing"', async () => {
    const env = s3TestOptions()
    const { client } = new S3Storage({ ...env, credentials: { accessKeyId: 'NOSUCHKEY', secretAccessKey: 'nope' } })
    await expect(ensureBucket(client, env.bucket)).rejects.toBeInstanceOf(PermissionDeniedError)
    client.destroy()
  })
})
