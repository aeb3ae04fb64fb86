/**
 * `upload()`: sends a file from the browser straight to storage (an S3
 * bucket through presigned URLs, or local disk through signed upload URLs
 * served by `@stowage/http`), with progress, abort, per-part retries and
 * resumable multipart uploads. The server decides the shape of each upload
 * (one PUT, a POST form, or parts) in its answer to `sign`; this file only
 * carries bytes and never sees a credential.
 */
import { sendBytes, type SendResult } from './send.js'

/** One of the application's endpoints: a URL that takes and returns JSON, or a function doing the same. */
export type Endpoint = string | ((body: Record<string, unknown>) => Promise<any>)

/** What `onProgress` is told, at most once per chunk the browser reports. */
export interface UploadProgress {
  /** Bytes the server has (parts already there on resume count). */
  loaded: number
  /** The file's size. */
  total: number
  /** Bytes per second over the last few seconds; 0 until measured. */
  rate: number
}

/** A multipart upload in progress, as `sign` starts it: enough to resume it later. */
export interface UploadSession {
  upload: string
  uploadId: string
  partSize: number
  partCount: number
}

/**
 * Where sessions are kept between page loads (`window.localStorage` fits).
 * Best effort: what these methods throw (a full `localStorage`, one a
 * private window refuses) only costs the chance to resume; the upload goes on.
 */
export interface SessionStore {
  /** @returns the value stored under `key`, or `null`. */
  getItem(key: string): string | null
  /** Stores `value` under `key`. */
  setItem(key: string, value: string): void
  /** Forgets `key`; a missing key is not an error. */
  removeItem(key: string): void
}

/** Options for `upload`. */
export interface UploadOptions {
  /** Base URL of the server helper: `sign`, `parts`, `complete`, `abort`, `confirm` default to `${endpoint}/<name>`. */
  endpoint?: string
  /** Asks for a signature: `{ filename, size, type }` in, the upload's shape out. */
  sign?: Endpoint
  /** Checks and keeps the upload: `{ upload }` in, whatever the application answers out. `false`: do not confirm (hand the token to your own form instead). */
  confirm?: Endpoint | false
  /** Which parts the server has, with fresh URLs for the rest: `{ upload, uploadId, size }` in (each URL signs its part's length). */
  parts?: Endpoint
  /** Assembles the parts: `{ upload, uploadId, partCount, size }` in. */
  complete?: Endpoint
  /** Cancels the upload on the server: `{ upload, uploadId? }` in. */
  abort?: Endpoint
  onProgress?: (progress: UploadProgress) => void
  /** Aborts the upload; what was sent is deleted on the server (the multipart upload is aborted). */
  signal?: AbortSignal
  /** Tries per request after the first, on network errors, 408, 429 and 5xx. Default 3. */
  retries?: number
  /** First retry delay in ms, doubled each time (with jitter). Default 500. */
  retryDelay?: number
  /** Parts in flight at once. Default 4. */
  concurrency?: number
  /** A multipart session to resume (from `UploadError.session` or the `store`). */
  resume?: UploadSession
  /** Keeps the session of a multipart upload under a key derived from the file, so a reload can resume it; removed on success or abort. */
  store?: SessionStore
  /** Extra headers for the application's endpoints (a CSRF token). */
  headers?: Record<string, string>
}

/** What `upload` resolves to. */
export interface UploadResult<T = unknown> {
  /** The pending upload's token (what `confirm` was given). */
  upload: string
  /** The name the server planned for the file (the confirmed one may differ). */
  name: string
  /** The answer of `confirm`, when it ran. */
  confirmed?: T
  /** Parts sent by this call (0 for a single request); a resume sends only the missing ones. */
  partsSent: number
}

/**
 * An upload that failed. A multipart upload that failed on the network keeps
 * its parts on the server: pass `session` as `resume` to send the rest.
 */
export class UploadError extends Error {
  override readonly name = 'UploadError'
  /** Never throws. */
  constructor(
    message: string,
    /** HTTP status of the failed request, 0 for a network failure. */
    readonly status: number,
    /** The server's JSON answer, when it sent one (a refused confirmation lists why). */
    readonly body?: unknown,
    /** A resumable multipart session. */
    readonly session?: UploadSession,
  ) {
    super(message)
  }
}

interface SignedSingle {
  upload: string
  name: string
  method: 'PUT' | 'POST'
  url: string
  headers?: Record<string, string>
  fields?: Record<string, string>
}
interface SignedMultipart {
  upload: string
  name: string
  multipart: UploadSession & { parts: PartUrl[] }
}
interface PartUrl {
  partNumber: number
  url: string
}

function abortError(): Error {
  return new DOMException('The upload was aborted', 'AbortError')
}

async function call(endpoint: Endpoint, body: Record<string, unknown>, options: UploadOptions): Promise<any> {
  if (typeof endpoint === 'function') return endpoint(body)
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
    body: JSON.stringify(body),
    signal: options.signal,
    credentials: 'same-origin',
  })
  const text = await res.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = text
  }
  if (!res.ok) {
    const message = (json as { message?: string } | undefined)?.message ?? `${endpoint} answered ${res.status}`
    throw new UploadError(message, res.status, json)
  }
  return json
}

function endpointOf(options: UploadOptions, name: 'sign' | 'parts' | 'complete' | 'abort' | 'confirm'): Endpoint {
  const given = options[name]
  if (given) return given
  if (!options.endpoint) throw new TypeError(`upload() needs the '${name}' endpoint, or 'endpoint'`)
  return `${options.endpoint.replace(/\/+$/, '')}/${name}`
}

const retryable = (status: number) => status === 0 || status === 408 || status === 429 || status >= 500

/** Sends one request, retrying with exponential backoff and jitter. */
async function withRetries(send: () => Promise<SendResult>, options: UploadOptions, what: string): Promise<SendResult> {
  const retries = options.retries ?? 3
  const base = options.retryDelay ?? 500
  for (let attempt = 0; ; attempt++) {
    const res = await send()
    if (res.status >= 200 && res.status < 300) return res
    if (options.signal?.aborted) throw abortError()
    if (!retryable(res.status) || attempt >= retries) throw new UploadError(`${what} failed (${res.status || 'network error'})`, res.status, res.body)
    const delay = base * 2 ** attempt * (0.5 + Math.random() / 2)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, delay)
      options.signal?.addEventListener('abort', () => (clearTimeout(timer), reject(abortError())), { once: true })
    })
  }
}

/** Progress over all parts, with a rate measured over a sliding window. */
function tracker(total: number, onProgress: UploadOptions['onProgress']) {
  const sent = new Map<number, number>()
  let base = 0
  const samples: [number, number][] = []
  const report = () => {
    if (!onProgress) return
    let loaded = base
    for (const v of sent.values()) loaded += v
    const now = Date.now()
    samples.push([now, loaded])
    while (samples.length > 2 && now - samples[0]![0] > 3000) samples.shift()
    const [t0, b0] = samples[0]!
    onProgress({ loaded: Math.min(loaded, total), total, rate: now > t0 ? Math.round(((loaded - b0) * 1000) / (now - t0)) : 0 })
  }
  return {
    already(bytes: number) {
      base += bytes
    },
    part(partNumber: number, bytes: number) {
      sent.set(partNumber, bytes)
      report()
    },
    report,
  }
}

/** `store`, with what its methods throw swallowed: keeping a session is a convenience, never a reason to fail. */
function bestEffort(store: SessionStore): SessionStore {
  const quietly = <T>(call: () => T, fallback: T): T => {
    try {
      return call()
    } catch {
      return fallback
    }
  }
  return {
    getItem: (key) => quietly(() => store.getItem(key), null),
    setItem: (key, value) => quietly(() => store.setItem(key, value), undefined),
    removeItem: (key) => quietly(() => store.removeItem(key), undefined),
  }
}

function storeKey(file: Blob & { name?: string; lastModified?: number }): string {
  return `stowage-upload:${file.name ?? ''}:${file.size}:${file.lastModified ?? 0}`
}

/**
 * Uploads `file` straight to storage: signs, sends (in parts above the
 * server's threshold, several at once, each retried on its own), completes
 * and confirms.
 * @returns the upload token, the planned name, the number of parts this call sent, and the `confirm` answer.
 * @throws DOMException `AbortError` when `signal` aborts (the server side is cancelled too);
 *   UploadError for a refused or failed request (`session` set when a multipart upload can be resumed).
 *   Nothing `options.store` throws fails the upload.
 */
export async function upload<T = unknown>(file: Blob, options: UploadOptions): Promise<UploadResult<T>> {
  const { signal } = options
  if (signal?.aborted) throw abortError()
  const total = file.size
  const progress = tracker(total, options.onProgress)
  const key = options.store ? storeKey(file) : ''
  const store = options.store && bestEffort(options.store)
  let session = options.resume ?? (store ? parseSession(store.getItem(key)) : undefined)
  let upload: string
  let name = ''
  let partUrls: PartUrl[]
  let partsSent = 0

  if (session) {
    upload = session.upload
    // Which parts made it: send only the others, with fresh URLs (the first ones may have expired).
    const state = (await call(endpointOf(options, 'parts'), { upload, uploadId: session.uploadId, size: total }, options)) as {
      parts: { partNumber: number; size: number }[]
      urls: PartUrl[]
      name?: string
      partSize?: number
      partCount?: number
    }
    // The parts the server signed are cut as it says: its part size is the upload's (the URLs sign each length).
    if (state.partSize && state.partCount) session = { ...session, partSize: state.partSize, partCount: state.partCount }
    name = state.name ?? ''
    for (const p of state.parts) progress.already(p.size)
    partUrls = state.urls
  } else {
    const signed = (await call(endpointOf(options, 'sign'), { filename: (file as File).name ?? 'blob', size: total, type: file.type }, options)) as
      SignedSingle | SignedMultipart
    upload = signed.upload
    name = signed.name
    if (!('multipart' in signed)) {
      // A local-disk upload URL is a path of the application: resolve it where the endpoint is.
      const sign = endpointOf(options, 'sign')
      if (typeof sign === 'string') signed.url = new URL(signed.url, new URL(sign, globalThis.location?.href)).href
      await sendSingle(file, signed, options, progress)
      return finish<T>(upload, name, 0, options)
    }
    const { parts, ...rest } = signed.multipart
    session = { upload, uploadId: rest.uploadId, partSize: rest.partSize, partCount: rest.partCount }
    partUrls = parts
    store?.setItem(key, JSON.stringify(session))
  }

  const active = session
  try {
    partsSent = await sendParts(file, active, partUrls, options, progress)
    await call(endpointOf(options, 'complete'), { upload, uploadId: active.uploadId, partCount: active.partCount, size: total }, options)
  } catch (err) {
    if (signal?.aborted) {
      store?.removeItem(key)
      await cancel(upload, active.uploadId, options)
      throw abortError()
    }
    if (err instanceof UploadError) throw new UploadError(err.message, err.status, err.body, active)
    throw err
  }
  store?.removeItem(key)
  return finish<T>(upload, name, partsSent, options)
}

function parseSession(text: string | null): UploadSession | undefined {
  if (!text) return undefined
  try {
    const s = JSON.parse(text) as UploadSession
    return typeof s.upload === 'string' && typeof s.uploadId === 'string' && s.partSize > 0 && s.partCount > 0 ? s : undefined
  } catch {
    return undefined
  }
}

async function finish<T>(upload: string, name: string, partsSent: number, options: UploadOptions): Promise<UploadResult<T>> {
  if (options.confirm === false) return { upload, name, partsSent }
  const confirmed = (await call(endpointOf(options, 'confirm'), { upload }, options)) as T
  return { upload, name, confirmed, partsSent }
}

/** Best effort: the server's cleanup of pending uploads covers a cancel that never arrives. */
async function cancel(upload: string, uploadId: string | undefined, options: UploadOptions): Promise<void> {
  await call(endpointOf(options, 'abort'), uploadId ? { upload, uploadId } : { upload }, { ...options, signal: undefined }).catch(() => undefined)
}

async function sendSingle(file: Blob, signed: SignedSingle, options: UploadOptions, progress: ReturnType<typeof tracker>): Promise<void> {
  let body: Blob | FormData = file
  if (signed.method === 'POST') {
    const form = new FormData()
    for (const [k, v] of Object.entries(signed.fields ?? {})) form.append(k, v)
    form.append('file', file)
    body = form
  }
  try {
    await withRetries(
      () =>
        sendBytes({
          method: signed.method,
          url: signed.url,
          headers: signed.headers ?? {},
          body,
          signal: options.signal,
          onProgress: (n) => progress.part(1, Math.min(n, file.size)),
        }),
      options,
      'Upload',
    )
  } catch (err) {
    if (options.signal?.aborted) {
      await cancel(signed.upload, undefined, options)
      throw abortError()
    }
    throw err
  }
  progress.part(1, file.size)
}

async function sendParts(file: Blob, session: UploadSession, urls: PartUrl[], options: UploadOptions, progress: ReturnType<typeof tracker>): Promise<number> {
  const queue = [...urls].sort((a, b) => a.partNumber - b.partNumber)
  let sent = 0
  let failure: unknown
  const worker = async () => {
    for (let next = queue.shift(); next && !failure; next = queue.shift()) {
      const { partNumber, url } = next
      const start = (partNumber - 1) * session.partSize
      const body = file.slice(start, Math.min(file.size, start + session.partSize))
      try {
        await withRetries(
          () => sendBytes({ method: 'PUT', url, headers: {}, body, signal: options.signal, onProgress: (n) => progress.part(partNumber, n) }),
          options,
          `Part ${partNumber}`,
        )
        progress.part(partNumber, body.size)
        sent++
      } catch (err) {
        failure ??= err
        progress.part(partNumber, 0)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, queue.length)) }, worker))
  if (failure) throw failure
  if (options.signal?.aborted) throw abortError()
  return sent
}
