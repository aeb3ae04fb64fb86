/**
 * S3Storage against the real S3 gateway through a fault-injecting proxy:
 * connection resets mid-upload and mid-download, 500 and 503 SlowDown,
 * stalls past the timeout, truncated responses. Every save either succeeds
 * with exactly the right bytes (read back directly from the gateway and
 * hashed) or fails with a StorageError; either way it leaves no stray object
 * and no dangling multipart upload. Reads never return wrong bytes quietly.
 * Retries are bounded by the client's `maxAttempts`.
 */
import { createHash, randomBytes } from 'node:crypto'
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StorageError, readAll } from '@stowage/core'
import { randomPrefix, rejection } from '@stowage/core/testing'
import type { S3Storage, S3StorageOptions } from '@stowage/s3'
import { s3Storages, s3TestEnv } from '../s3.js'
import { FaultProxy, type FaultRule } from './helpers/fault-proxy.js'

const MIB = 1024 * 1024
/**
 * Socket idle timeout: a stalled request fails after this long (then retries).
 * The SDK sets none by default, so without it a stalled download hangs forever.
 */
const TIMEOUT_MS = 1500
const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

let proxy: FaultProxy
const location = randomPrefix('s3-faults')
const storageWith = s3Storages('s3-faults', { location })
let direct: S3Storage

beforeAll(async () => {
  proxy = await FaultProxy.start(s3TestEnv().endpoint)
  direct = storageWith()
})
afterAll(async () => {
  await proxy?.close()
})

/**
 * An S3Storage that talks through the proxy, with small parts and short
 * timeouts, set through Stowage's own options (so these tests also prove
 * the options reach the SDK); `maxAttempts` left out gets Stowage's default.
 */
function throughProxy(maxAttempts?: number, extra: Partial<S3StorageOptions> = {}): S3Storage {
  return storageWith({
    endpoint: proxy.endpoint,
    multipartThreshold: 5 * MIB,
    partSize: 5 * MIB,
    queueSize: 2,
    socketTimeout: TIMEOUT_MS,
    connectionTimeout: TIMEOUT_MS,
    ...(maxAttempts !== undefined && { maxAttempts }),
    ...extra,
  })
}

/** Objects and unfinished multipart uploads under `dir`, straight from the gateway. */
async function leftovers(dir: string): Promise<{ objects: string[]; uploads: string[] }> {
  const { files, dirs } = await direct.listdir(dir)
  expect(dirs).toEqual([])
  const res = await direct.client.send(new ListMultipartUploadsCommand({ Bucket: direct.options.bucket, Prefix: direct.key(`${dir}/`) }))
  return { objects: files.map((f) => `${dir}/${f}`), uploads: (res.Uploads ?? []).map((u) => u.Key ?? '?') }
}

type Outcome = 'succeeds' | 'fails'

/**
 * Saves `size` random bytes through the proxy with `rules` armed, then checks
 * the promise: the expected outcome, the bytes exact on success, and nothing
 * else left behind either way.
 */
async function saveUnderFaults(rules: FaultRule[], size: number, expected: Outcome, options: { storage?: S3Storage } = {}): Promise<void> {
  const storage = options.storage ?? throughProxy()
  proxy.reset()
  for (const r of rules) proxy.add(r)
  const dir = randomPrefix('f')
  const body = randomBytes(size)
  const result = await storage.save(`${dir}/file.bin`, body).then(
    (name) => ({ ok: true as const, name }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  // Each armed fault really fired: a rule that matches nothing proves nothing.
  const fired = proxy.seen.filter((r) => r.fault).length
  expect(fired, `faults fired; requests seen: ${JSON.stringify(proxy.seen)}`).toBeGreaterThanOrEqual(
    Math.min(...rules.map((r) => (Number.isFinite(r.times ?? 1) ? (r.times ?? 1) : 1))),
  )
  proxy.reset()
  const left = await leftovers(dir)
  expect(left.uploads, 'dangling multipart uploads').toEqual([])
  if (result.ok) {
    expect(expected, 'the save succeeded').toBe('succeeds')
    expect(sha(await direct.read(result.name))).toBe(sha(body))
    expect(left.objects, 'exactly the saved object, nothing else').toEqual([result.name])
  } else {
    expect(result.error).toBeInstanceOf(StorageError)
    expect(expected, `the save failed: ${String(result.error)}`).toBe('fails')
    expect(left.objects, 'no object after a failed save').toEqual([])
  }
}

/**
 * Saves `size` bytes with the answer to the object PUT (the whole small body,
 * or a large save's name-claiming placeholder) held back by the proxy after
 * the gateway stored it, aborts the save once the object is there, and checks
 * that the save rejects with EABORTED and leaves no object and no upload.
 */
async function abortAfterStored(size: number): Promise<void> {
  const storage = throughProxy(1, { socketTimeout: 30_000 })
  proxy.reset()
  proxy.add({ method: 'PUT', target: PUT_OBJECT, direction: 'response', fault: { kind: 'stall', after: 0 } })
  const dir = randomPrefix('f')
  const controller = new AbortController()
  const saving = storage.save(`${dir}/file.bin`, randomBytes(size), { signal: controller.signal })
  saving.catch(() => undefined)
  // The gateway has stored it (the proxy holds only the answer): poll the gateway directly.
  for (let i = 0; !(await direct.exists(`${dir}/file.bin`)); i++) {
    if (i > 200) throw new Error('the object never appeared')
  }
  controller.abort()
  const err = await rejection(saving, StorageError)
  expect(err.code).toBe('EABORTED')
  proxy.reset()
  expect(await leftovers(dir)).toEqual({ objects: [], uploads: [] })
}

const PUT_OBJECT = /\/file\.bin(\?x-id=PutObject)?$/ // a plain PutObject, not a part
const PART = (n: number) => new RegExp(`[?&]partNumber=${n}&`)
const COMPLETE = /\?uploadId=/

describe('S3Storage saves through faults (single PUT, 200 KB)', { timeout: 60_000 }, () => {
  const size = 200 * 1024
  it('a connection reset mid-upload is retried and the save succeeds intact', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PUT_OBJECT, direction: 'request', fault: { kind: 'reset', after: 64 * 1024 } }], size, 'succeeds')
  })
  it('a reset on every attempt fails with a StorageError and stores nothing', async () => {
    await saveUnderFaults(
      [{ method: 'PUT', target: PUT_OBJECT, direction: 'request', fault: { kind: 'reset', after: 64 * 1024 }, times: Infinity }],
      size,
      'fails',
    )
  })
  it('503 SlowDown, then success: retried, intact', async () => {
    await saveUnderFaults([{ method: 'PUT', direction: 'request', fault: { kind: 'status', status: 503 }, times: 2 }], size, 'succeeds')
  })
  it('500 InternalError once: retried, intact', async () => {
    await saveUnderFaults([{ method: 'PUT', direction: 'request', fault: { kind: 'status', status: 500 } }], size, 'succeeds')
  })
  it('503 SlowDown on every attempt fails with a StorageError and stores nothing', async () => {
    await saveUnderFaults([{ method: 'PUT', direction: 'request', fault: { kind: 'status', status: 503 }, times: Infinity }], size, 'fails')
  })
  it('an upload stalled past the timeout is retried and succeeds intact', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PUT_OBJECT, direction: 'request', fault: { kind: 'stall', after: 1000 } }], size, 'succeeds')
  })
  // A lost response makes the SDK retry the conditional PUT; the server refuses the retry (412)
  // because the first attempt landed. S3Storage recognises its own write by the write id in the
  // object's metadata and keeps that name: exactly one object, no duplicate.
  it('the connection reset after the server stored the object (response lost): one object, intact', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PUT_OBJECT, direction: 'response', fault: { kind: 'reset', after: 0 } }], size, 'succeeds')
  })
  it('a truncated PUT response: one object, intact', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PUT_OBJECT, direction: 'response', fault: { kind: 'truncate', after: 20 } }], size, 'succeeds')
  })
  // Every answer lost, retries included: the first attempt stored the object, each retry got a 412
  // nobody heard. The object carries this save's write id, so it is this save's: the save succeeds
  // with it (before the fix it failed and left the object under the name: a failure that stored).
  it('the response lost on every attempt after the server stored the object: one object, intact', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PUT_OBJECT, direction: 'response', fault: { kind: 'reset', after: 0 }, times: Infinity }], size, 'succeeds')
  })
  it('aborted while the stored PUT waits for its answer: EABORTED and nothing stored', async () => {
    await abortAfterStored(size)
  })
})

describe('S3Storage saves through faults (multipart, 12 MiB in 5 MiB parts)', { timeout: 60_000 }, () => {
  const size = 12 * MIB
  it('a reset in the middle of part 2 is retried and the save succeeds intact', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PART(2), direction: 'request', fault: { kind: 'reset', after: MIB } }], size, 'succeeds')
  })
  it('part 2 reset on every attempt: StorageError, upload aborted, no placeholder left', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PART(2), direction: 'request', fault: { kind: 'reset', after: MIB }, times: Infinity }], size, 'fails')
  })
  it('part 3 stalled past the timeout is retried and the save succeeds intact', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PART(3), direction: 'request', fault: { kind: 'stall', after: 1000 } }], size, 'succeeds')
  })
  it('503 SlowDown on every CompleteMultipartUpload: StorageError, upload aborted, nothing left', async () => {
    await saveUnderFaults([{ method: 'POST', target: COMPLETE, direction: 'request', fault: { kind: 'status', status: 503 }, times: Infinity }], size, 'fails')
  })
  it('the response to the name-claiming placeholder PUT lost: one object, intact, no placeholder left', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PUT_OBJECT, direction: 'response', fault: { kind: 'reset', after: 0 } }], size, 'succeeds')
  })
  it('the placeholder PUT answer lost on every attempt: one object, intact, no placeholder left', async () => {
    await saveUnderFaults([{ method: 'PUT', target: PUT_OBJECT, direction: 'response', fault: { kind: 'reset', after: 0 }, times: Infinity }], size, 'succeeds')
  })
  it('aborted while the stored placeholder PUT waits for its answer: EABORTED, no placeholder left', async () => {
    await abortAfterStored(size)
  })
  // The server completed the upload but the answer was lost; the SDK retries the Complete, and the
  // gateway answers the repeat for the upload it already finished with success: one object, intact.
  // (A server that answered NoSuchUpload instead would fail the save and leave the object: this
  // test would show it.)
  it('the CompleteMultipartUpload response lost: one object, intact', async () => {
    await saveUnderFaults([{ method: 'POST', target: COMPLETE, direction: 'response', fault: { kind: 'reset', after: 0 } }], size, 'succeeds')
  })
})

describe('S3Storage retries are bounded and configurable', { timeout: 60_000 }, () => {
  for (const [attempts, expected] of [
    [1, 1],
    [2, 2],
    [4, 4],
    [undefined, 3],
  ] as const) {
    const title = attempts === undefined ? 'maxAttempts left out: the default, exactly 3 requests' : `maxAttempts ${attempts}: exactly ${attempts} request(s)`
    it(`${title} under a permanent 503, then a StorageError`, async () => {
      proxy.reset()
      proxy.add({ method: 'PUT', direction: 'request', fault: { kind: 'status', status: 503 }, times: Infinity })
      const storage = throughProxy(attempts)
      const err = await rejection(storage.save(`${randomPrefix('f')}/x.txt`, 'x'), StorageError)
      expect(err.context).toMatchObject({ httpStatus: 503 })
      expect(proxy.count('PUT')).toBe(expected)
      proxy.reset()
    })
  }
})

describe('S3Storage reads through faults (3 MiB object)', { timeout: 60_000 }, () => {
  const body = randomBytes(3 * MIB)
  let name: string
  beforeAll(async () => {
    name = await direct.save(`${randomPrefix('r')}/object.bin`, body)
  })
  const GET = { method: 'GET', direction: 'response' } as const

  async function readOutcome(read: () => Promise<Uint8Array>): Promise<'intact' | StorageError | Error> {
    const r = await read().then(
      (bytes) => bytes,
      (e: unknown) => e as Error,
    )
    if (r instanceof Error) return r
    // Never quietly short or different.
    expect(r.byteLength).toBe(body.length)
    expect(sha(r)).toBe(sha(body))
    return 'intact'
  }

  const faults: [string, FaultRule['fault']][] = [
    ['truncated mid-body', { kind: 'truncate', after: MIB }],
    ['reset mid-body', { kind: 'reset', after: MIB }],
    ['stalled mid-body past the timeout', { kind: 'stall', after: MIB }],
  ]
  for (const [what, fault] of faults) {
    it(`read(): a response ${what} fails with a StorageError, never short data`, async () => {
      proxy.reset()
      proxy.add({ ...GET, fault, times: Infinity })
      const out = await readOutcome(() => throughProxy().read(name))
      expect(out).toBeInstanceOf(StorageError)
      proxy.reset()
    })
    it(`open(): a stream ${what} errors instead of ending early`, async () => {
      proxy.reset()
      proxy.add({ ...GET, fault, times: Infinity })
      const out = await readOutcome(async () => readAll(await throughProxy().open(name)))
      expect(out).toBeInstanceOf(StorageError)
      proxy.reset()
    })
  }

  it('a response cut inside its headers, once, is retried and reads intact', async () => {
    proxy.reset()
    proxy.add({ ...GET, fault: { kind: 'truncate', after: 30 } })
    expect(await readOutcome(() => throughProxy().read(name))).toBe('intact')
    expect(proxy.count('GET')).toBe(2)
    proxy.reset()
  })

  it('503 SlowDown once, then the object: reads intact', async () => {
    proxy.reset()
    proxy.add({ method: 'GET', direction: 'request', fault: { kind: 'status', status: 503 } })
    expect(await readOutcome(() => throughProxy().read(name))).toBe('intact')
    expect(proxy.seen.map((r) => r.fault)).toEqual(['status', undefined])
    proxy.reset()
  })

  it('a byte range truncated mid-body fails with a StorageError instead of returning a short range', async () => {
    proxy.reset()
    proxy.add({ ...GET, fault: { kind: 'truncate', after: 600 * 1024 }, times: Infinity })
    await rejection(
      throughProxy()
        .open(name, { start: 100, end: 2 * MIB })
        .then(readAll),
      StorageError,
    )
    expect(proxy.seen.filter((r) => r.fault === 'truncate').length).toBeGreaterThan(0)
    proxy.reset()
  })
})
