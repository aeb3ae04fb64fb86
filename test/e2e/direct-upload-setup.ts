/**
 * What the profiles example needs for direct uploads in a browser: the
 * `@stowage/browser` client built (the app serves its dist/), and CORS on the
 * test bucket so pages of the app's origin may PUT to it.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { PutBucketCorsCommand, S3Client } from '@aws-sdk/client-s3'
import { s3TestEnv } from '../s3.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Builds packages/browser into its dist/ (a few seconds; it has no dependencies). */
export async function buildBrowserClient(): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', path.join(ROOT, 'packages/browser/tsconfig.json')], {
    cwd: ROOT,
  })
}

/**
 * Lets browsers PUT to the test bucket from any origin (what an application
 * configures once for its own origin), exposing ETag for clients that read it.
 */
export async function allowBrowserUploads(): Promise<void> {
  const env = s3TestEnv()
  const client = new S3Client({
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
  })
  try {
    await client.send(
      new PutBucketCorsCommand({
        Bucket: env.bucket,
        CORSConfiguration: {
          CORSRules: [
            { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 600 },
          ],
        },
      }),
    )
  } finally {
    client.destroy()
  }
}
