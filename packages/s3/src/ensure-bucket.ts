/**
 * Creating the bucket a storage points at: handy for development servers
 * (MinIO, a local Ceph gateway) and test setups. Production buckets are
 * better created by infrastructure code, with their policies.
 */
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import { httpStatus, mapS3Error, s3Code } from './s3-errors.js'

/**
 * Creates `bucket` unless it already exists.
 * @returns true when it was created, false when it already existed.
 * @throws PermissionDeniedError (EACCES) for refused credentials; StorageError for anything else.
 */
export async function ensureBucket(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }))
    return false
  } catch (err) {
    if (httpStatus(err) !== 404 && s3Code(err) !== 'NotFound' && s3Code(err) !== 'NoSuchBucket') throw mapS3Error(err, 'headBucket', bucket, bucket)
  }
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
    return true
  } catch (err) {
    // Someone else created it meanwhile: that is what we wanted.
    if (s3Code(err) === 'BucketAlreadyOwnedByYou') return false
    throw mapS3Error(err, 'createBucket', bucket, bucket)
  }
}
