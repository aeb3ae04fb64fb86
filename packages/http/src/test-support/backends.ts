/**
 * The backends the http tests run on, each under its own random location so
 * runs never see each other's files, and a way to list everything a backend
 * holds (including the local backend's hidden temporary files) to prove a
 * refused upload left nothing behind.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { MemoryStorage, encodeUrlPath, type Storage } from '@stowage/core'
import { listAll, randomPrefix } from '@stowage/core/testing'
import { FileSystemStorage } from '@stowage/local'
import { S3Storage } from '@stowage/s3'
import { s3TestOptions } from '../../../../test/s3.js'

/** One backend under test. */
export interface TestBackend {
  name: string
  storage: Storage
  /** Secret the storage signs URLs with, when it signs them itself (local). */
  signingSecret?: string
  /** Whether `stat()` gives back the content type a file was saved with (local disk records none). */
  keepsContentType: boolean
  /** Every stored name, recursively, plus anything half-written the backend may hide. */
  everything(): Promise<string[]>
  destroy(): Promise<void>
}

export const SECRET = 'test-secret-0123456789abcdef'

/** Factories for every backend, by name. */
export const backends: Record<string, () => Promise<TestBackend>> = {
  memory: async () => {
    const storage = new MemoryStorage({ baseUrl: '/media/', signingSecret: SECRET })
    return { name: 'memory', storage, signingSecret: SECRET, keepsContentType: true, everything: () => listAll(storage), destroy: async () => {} }
  },
  local: async () => {
    const location = await mkdtemp(path.join(tmpdir(), 'stowage-http-'))
    const storage = new FileSystemStorage({ location, baseUrl: '/media/', signingSecret: SECRET })
    return {
      name: 'local',
      storage,
      signingSecret: SECRET,
      keepsContentType: false,
      // Raw directory listing: it shows the temporary files listdir() hides.
      everything: async () =>
        (await readdir(location, { recursive: true, withFileTypes: true }))
          .filter((e) => e.isFile())
          .map((e) => path.relative(location, path.join(e.parentPath, e.name)))
          .sort(),
      destroy: () => rm(location, { recursive: true, force: true }),
    }
  },
  s3: async () => {
    // A random key prefix per run: the shared bucket is never wiped and runs never meet.
    const storage = new S3Storage(s3TestOptions({ location: randomPrefix('http') }))
    return { name: 's3', storage, keepsContentType: true, everything: () => listAll(storage), destroy: async () => storage.client.destroy() }
  },
}

/** The path `serveMedia({ prefix: '/media/' })` serves `name` under (S3's own `url()` points at the bucket instead). */
export function mediaPath(name: string): string {
  return `/media/${encodeUrlPath(name)}`
}

/** Starts `handler` on a free port. @returns its base URL and a `close()`. */
export async function serve(handler: RequestListener): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A multipart body built by hand, so tests can send hostile, huge or truncated ones. */
export function multipart(parts: { name: string; filename?: string; type?: string; data: string | Buffer }[], boundary = '----stowage-test-boundary') {
  const chunks: Buffer[] = []
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`))
    chunks.push(typeof p.data === 'string' ? Buffer.from(p.data) : p.data, Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}
