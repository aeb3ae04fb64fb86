/**
 * One small adapter per system compared, so every scenario runs the same
 * loop over each: `save(name, bytes)`, `read(name)`, `saveStream(name, readable)`,
 * `openStream(name)`, `url(name)`. Each is written the way that system's
 * documentation shows, with its defaults.
 */
import { createRequire } from 'node:module'
import { mkdir, writeFile, readFile } from 'node:fs/promises'
import { createReadStream, createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const BENCH = dirname(dirname(fileURLToPath(import.meta.url)))
const ROOT = dirname(BENCH)
// The raw-SDK baseline uses the very SDK copy @stowage/s3 resolves, so the
// comparison isolates Stowage's own overhead from SDK version differences.
const requireFromS3 = createRequire(join(ROOT, 'packages', 's3', 'package.json'))
const requireFromBench = createRequire(join(BENCH, 'package.json'))
const importFrom = (req, spec) => import(req.resolve(spec))

export async function sdk() {
  const s3 = await import(requireFromS3.resolve('@aws-sdk/client-s3'))
  const presigner = await import(requireFromS3.resolve('@aws-sdk/s3-request-presigner'))
  // lib-storage is the bench's own dependency; it drives the client it is given.
  const storage = await importFrom(requireFromBench, '@aws-sdk/lib-storage')
  return { ...s3, ...presigner, ...storage }
}

export function s3Config(env) {
  return {
    bucket: env.S3_BUCKET,
    region: env.S3_REGION,
    endpoint: env.S3_ENDPOINT,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
  }
}

async function toBuffer(stream) {
  const chunks = []
  for await (const c of stream) chunks.push(c)
  return Buffer.concat(chunks)
}

async function drain(stream) {
  let n = 0
  for await (const c of stream) n += c.length
  return n
}

// ---------------------------------------------------------------- local

export const localPeers = {
  async stowage(root) {
    const { FileSystemStorage } = await import('@stowage/local')
    const s = new FileSystemStorage({ location: root, baseUrl: '/media/' })
    return {
      save: (name, data) => s.save(name, data),
      read: (name) => s.read(name),
      saveStream: (name, stream) => s.save(name, stream),
      openStream: async (name) => drain(await s.open(name)),
    }
  },
  async raw(root) {
    await mkdir(root, { recursive: true })
    return {
      save: async (name, data) => {
        await writeFile(join(root, name), data)
        return name
      },
      read: (name) => readFile(join(root, name)),
      saveStream: async (name, stream) => {
        await pipeline(stream, createWriteStream(join(root, name)))
        return name
      },
      openStream: (name) => drain(createReadStream(join(root, name))),
    }
  },
  async flydrive(root) {
    const { Disk } = await importFrom(requireFromBench, 'flydrive')
    const { FSDriver } = await importFrom(requireFromBench, 'flydrive/drivers/fs')
    const disk = new Disk(new FSDriver({ location: root, visibility: 'private' }))
    return {
      save: async (name, data) => {
        await disk.put(name, data)
        return name
      },
      read: (name) => disk.getBytes(name),
      saveStream: async (name, stream) => {
        await disk.putStream(name, stream)
        return name
      },
      openStream: async (name) => drain(await disk.getStream(name)),
    }
  },
  async flystorage(root) {
    const { FileStorage } = await importFrom(requireFromBench, '@flystorage/file-storage')
    const { LocalStorageAdapter } = await importFrom(requireFromBench, '@flystorage/local-fs')
    const fs = new FileStorage(new LocalStorageAdapter(root))
    return {
      save: async (name, data) => {
        await fs.write(name, data)
        return name
      },
      read: (name) => fs.readToUint8Array(name),
      saveStream: async (name, stream) => {
        await fs.write(name, stream)
        return name
      },
      openStream: async (name) => drain(await fs.read(name)),
    }
  },
}

// ---------------------------------------------------------------- S3

export const s3Peers = {
  async stowage(env, prefix) {
    const { S3Storage } = await import('@stowage/s3')
    const c = s3Config(env)
    const s = new S3Storage({ ...c, location: prefix })
    return {
      save: (name, data) => s.save(name, data),
      read: (name) => s.read(name),
      saveStream: (name, stream) => s.save(name, stream),
      openStream: async (name) => drain(await s.open(name)),
      url: (name) => s.url(name),
      close: () => s.client.destroy?.(),
    }
  },
  async raw(env, prefix) {
    const { S3Client, PutObjectCommand, GetObjectCommand, getSignedUrl, Upload } = await sdk()
    const c = s3Config(env)
    const client = new S3Client(c)
    const key = (n) => `${prefix}/${n}`
    return {
      save: async (name, data) => {
        await client.send(new PutObjectCommand({ Bucket: c.bucket, Key: key(name), Body: data }))
        return name
      },
      read: async (name) => (await client.send(new GetObjectCommand({ Bucket: c.bucket, Key: key(name) }))).Body.transformToByteArray(),
      saveStream: async (name, stream) => {
        await new Upload({ client, params: { Bucket: c.bucket, Key: key(name), Body: stream }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done()
        return name
      },
      openStream: async (name) => drain((await client.send(new GetObjectCommand({ Bucket: c.bucket, Key: key(name) }))).Body),
      url: (name) => getSignedUrl(client, new GetObjectCommand({ Bucket: c.bucket, Key: key(name) }), { expiresIn: 3600 }),
      close: () => client.destroy(),
    }
  },
  async flydrive(env, prefix) {
    const { Disk } = await importFrom(requireFromBench, 'flydrive')
    const { S3Driver } = await importFrom(requireFromBench, 'flydrive/drivers/s3')
    const c = s3Config(env)
    const disk = new Disk(new S3Driver({ ...c, visibility: 'private', supportsACL: false }))
    const key = (n) => `${prefix}/${n}`
    return {
      save: async (name, data) => {
        await disk.put(key(name), data)
        return name
      },
      read: (name) => disk.getBytes(key(name)),
      // FlyDrive's S3 driver sends streams as one PutObject, which needs the length up front.
      saveStream: async (name, stream, size) => {
        await disk.putStream(key(name), stream, { contentLength: size })
        return name
      },
      openStream: async (name) => drain(await disk.getStream(key(name))),
      url: (name) => disk.getSignedUrl(key(name), { expiresIn: '1h' }),
    }
  },
  async flystorage(env, prefix) {
    const { FileStorage } = await importFrom(requireFromBench, '@flystorage/file-storage')
    const { AwsS3StorageAdapter } = await importFrom(requireFromBench, '@flystorage/aws-s3')
    const { S3Client } = await importFrom(requireFromBench, '@aws-sdk/client-s3')
    const c = s3Config(env)
    const client = new S3Client(c)
    const fs = new FileStorage(new AwsS3StorageAdapter(client, { bucket: c.bucket, prefix }))
    return {
      save: async (name, data) => {
        await fs.write(name, data)
        return name
      },
      read: (name) => fs.readToUint8Array(name),
      saveStream: async (name, stream) => {
        await fs.write(name, stream)
        return name
      },
      openStream: async (name) => drain(await fs.read(name)),
      url: (name) => fs.temporaryUrl(name, { expiresAt: Date.now() + 3600_000 }),
      close: () => client.destroy(),
    }
  },
}

/** Deletes every object under `prefix/` (the benchmark never wipes the bucket). */
export async function deletePrefix(env, prefix) {
  const { S3Client, ListObjectsV2Command, DeleteObjectsCommand } = await sdk()
  const c = s3Config(env)
  const client = new S3Client(c)
  let token
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: c.bucket, Prefix: `${prefix}/`, ContinuationToken: token }))
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }))
      if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: c.bucket, Delete: { Objects: keys, Quiet: true } }))
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  } finally {
    client.destroy()
  }
}

export { toBuffer, drain }
