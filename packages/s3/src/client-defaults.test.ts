/**
 * The client `S3Storage` builds when the options leave its transport alone:
 * the bounded defaults the README promises (10 s to connect, 60 s of socket
 * silence, 128 connections; 3 attempts is proven against the gateway in
 * test/reliability/s3-faults.test.ts) and the region each provider implies.
 * A loopback server that holds requests stands in for a busy S3 endpoint.
 */
import { createServer, type Agent, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { S3Storage } from './s3-storage.js'

const credentials = { accessKeyId: 'k', secretAccessKey: 's' }

/** The configuration of the SDK's request handler (`NodeHttpHandler`), filled in by the first request. */
function handlerConfig(storage: S3Storage): { connectionTimeout?: number; socketTimeout?: number; httpAgent?: Agent } {
  return (storage.client.config.requestHandler as unknown as { httpHandlerConfigs(): Record<string, unknown> }).httpHandlerConfigs()
}

/** Starts `handler` on a loopback port. @returns its URL and a `close()` that cuts open connections. */
async function serve(handler: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Requests waiting in `agent` for a free socket (Node's documented `agent.requests`). */
const queued = (agent: Agent) => Object.values(agent.requests).reduce((n, q) => n + (q?.length ?? 0), 0)

describe('S3Storage transport defaults', () => {
  it('gives the SDK a 10 s connection timeout and a 60 s socket timeout unless told otherwise', async () => {
    const server = await serve((_req, res) => res.writeHead(200, { 'content-length': '0' }).end())
    try {
      const defaults = new S3Storage({ bucket: 'b', endpoint: server.url, credentials })
      const chosen = new S3Storage({ bucket: 'b', endpoint: server.url, credentials, connectionTimeout: 1234, socketTimeout: 5678 })
      for (const s of [defaults, chosen]) expect(await s.exists('x.txt')).toBe(true)
      expect(handlerConfig(defaults)).toMatchObject({ connectionTimeout: 10_000, socketTimeout: 60_000 })
      expect(handlerConfig(chosen)).toMatchObject({ connectionTimeout: 1234, socketTimeout: 5678 })
      for (const s of [defaults, chosen]) s.client.destroy()
    } finally {
      await server.close()
    }
  })

  it('opens at most 128 connections at once by default (maxSockets) and queues the rest', async () => {
    const held: { end(): void }[] = []
    let open = 0
    let peak = 0
    let arrived = 0
    const waiting = new Map<number, () => void>()
    const arrivals = (n: number) => new Promise<void>((resolve) => (arrived >= n ? resolve() : waiting.set(n, resolve)))
    const server = await serve((_req, res) => {
      peak = Math.max(peak, ++open)
      res.on('close', () => open--)
      held.push({ end: () => res.writeHead(200, { 'content-length': '0' }).end() })
      waiting.get(++arrived)?.()
    })
    const storage = new S3Storage({ bucket: 'b', endpoint: server.url, credentials, maxAttempts: 1 })
    try {
      const calls = Array.from({ length: 129 }, (_, i) => storage.exists(`f${i}.txt`))
      await arrivals(128)
      const agent = handlerConfig(storage).httpAgent!
      expect(agent.maxSockets).toBe(128)
      // The 129th waits inside the agent for a socket, never reaching the server...
      await expect.poll(() => queued(agent)).toBe(1)
      expect(arrived).toBe(128)
      // ...until one answer frees a connection.
      held.shift()!.end()
      await arrivals(129)
      for (const h of held.splice(0)) h.end()
      expect(await Promise.all(calls)).toEqual(Array(129).fill(true))
      expect(peak).toBe(128)
    } finally {
      storage.client.destroy()
      await server.close()
    }
  })
})

describe('S3Storage region by provider', () => {
  it("uses 'auto' for provider 'r2', us-east-1 for the other S3-compatible servers, and an explicit region over both", async () => {
    const r2 = new S3Storage({ bucket: 'b', endpoint: 'https://account.r2.cloudflarestorage.com', provider: 'r2', credentials })
    const minio = new S3Storage({ bucket: 'b', endpoint: 'http://127.0.0.1:9000', provider: 'minio', credentials })
    const pinned = new S3Storage({ bucket: 'b', endpoint: 'https://account.r2.cloudflarestorage.com', provider: 'r2', region: 'weur', credentials })
    expect(await r2.client.config.region()).toBe('auto')
    expect(await minio.client.config.region()).toBe('us-east-1')
    expect(await pinned.client.config.region()).toBe('weur')
    // The region is what requests are signed for: a presigned URL names it in its credential scope.
    expect(decodeURIComponent(await r2.url('a.txt'))).toMatch(/X-Amz-Credential=k\/\d{8}\/auto\/s3\/aws4_request/)
    for (const s of [r2, minio, pinned]) s.client.destroy()
  })
})
