/**
 * Precompressed variants of static files, as WhiteNoise's
 * `CompressedManifestStaticFilesStorage` writes them: `app.<hash>.css.br`
 * and `app.<hash>.css.gz` beside `app.<hash>.css`, made once at deploy time
 * so no request pays for compression. Node's built-in zlib only, in worker
 * threads, so files compress in parallel with each other and with the writes.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { ConfigurationError } from '@stowage/core'
import Negotiator from 'negotiator'

/** A content coding we precompress to. */
export type Encoding = 'br' | 'gzip'

/** Every coding, in the order they are preferred when a client accepts both. */
export const ENCODINGS: readonly Encoding[] = ['br', 'gzip']

/** The suffix of each coding's variant: `app.css.br`, `app.css.gz`. */
export const ENCODING_SUFFIX: Readonly<Record<Encoding, string>> = { br: '.br', gzip: '.gz' }

/**
 * Default Brotli quality. 11 (the maximum, WhiteNoise's choice) makes files
 * about 10 % smaller than 6 but compresses some 30 times slower: minutes, not
 * seconds, for a large site's first deploy. Raise it with `brotliQuality`.
 */
export const DEFAULT_BROTLI_QUALITY = 6
/** gzip level: the maximum, cheap at these sizes. */
export const GZIP_LEVEL = 9

/** How `ManifestStaticStorage` precompresses (its `compress` option). */
export interface CompressOptions {
  /** Codings to write. Default both: `['br', 'gzip']`. */
  encodings?: Encoding[]
  /** Brotli quality, 0–11. Default `DEFAULT_BROTLI_QUALITY` (6). */
  brotliQuality?: number
  /**
   * Store each variant with the original's `Content-Type` and its own
   * `Content-Encoding` (`br`, `gzip`), on backends that keep headers (S3), so
   * a CDN that maps `app.css` to `app.css.br` for clients accepting br can
   * pass the object through unchanged. Only the compressible types get
   * variants, and for those every browser decodes the coding it asked for.
   * Default false: variants are plain compressed files
   * (`application/gzip`, `application/octet-stream`), which is what a server
   * negotiating by itself (nginx `gzip_static`, `serveStatic`) expects.
   */
  contentEncoding?: boolean
}

/** `CompressOptions` after defaults and validation. */
export interface ResolvedCompressOptions {
  encodings: readonly Encoding[]
  brotliQuality: number
  contentEncoding: boolean
}

/**
 * Applies defaults to a `compress` option.
 * @returns the resolved options, or `undefined` when compression is off.
 * @throws ConfigurationError (key `compress.*`) for an unknown coding or a quality outside 0–11.
 */
export function resolveCompressOptions(option: boolean | CompressOptions | undefined): ResolvedCompressOptions | undefined {
  if (!option) return undefined
  const o = option === true ? {} : option
  const encodings = o.encodings ?? ENCODINGS
  if (!Array.isArray(encodings) || encodings.length === 0 || encodings.some((e) => !ENCODINGS.includes(e))) {
    throw new ConfigurationError(`must list one or more of ${ENCODINGS.map((e) => `'${e}'`).join(', ')}, got ${JSON.stringify(encodings)}`, {
      key: 'compress.encodings',
    })
  }
  const brotliQuality = o.brotliQuality ?? DEFAULT_BROTLI_QUALITY
  if (!Number.isInteger(brotliQuality) || brotliQuality < 0 || brotliQuality > 11) {
    throw new ConfigurationError(`must be an integer from 0 to 11, got ${JSON.stringify(brotliQuality)}`, { key: 'compress.brotliQuality' })
  }
  // Preference order, whatever order the user wrote.
  return { encodings: ENCODINGS.filter((e) => encodings.includes(e)), brotliQuality, contentEncoding: o.contentEncoding ?? false }
}

/** @returns the variant's name: `css/app.<hash>.css` → `css/app.<hash>.css.br`. */
export function variantName(name: string, encoding: Encoding): string {
  return name + ENCODING_SUFFIX[encoding]
}

/** @returns the name a variant belongs to and its coding, or `null` when `name` is not a variant's name. */
export function variantOf(name: string): { name: string; encoding: Encoding } | null {
  for (const encoding of ENCODINGS) {
    const suffix = ENCODING_SUFFIX[encoding]
    if (name.endsWith(suffix) && name.length > suffix.length) return { name: name.slice(0, -suffix.length), encoding }
  }
  return null
}

/** A compressed variant of one file. */
export interface Variant {
  encoding: Encoding
  bytes: Buffer
}

/**
 * Compresses `data` with each coding, on the calling thread.
 * @returns the variants that came out smaller than `data` (none for data that does not compress).
 */
export function compressVariantsSync(data: Uint8Array, options: Pick<ResolvedCompressOptions, 'encodings' | 'brotliQuality'>): Variant[] {
  const out: Variant[] = []
  for (const encoding of options.encodings) {
    const bytes =
      encoding === 'br'
        ? brotliCompressSync(data, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: options.brotliQuality,
              [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
              [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
            },
          })
        : gzipSync(data, { level: GZIP_LEVEL })
    if (bytes.length < data.byteLength) out.push({ encoding, bytes })
  }
  return out
}

/**
 * Compresses `data` with each coding, off the main thread (see `CompressPool`).
 * @returns the variants that came out smaller than `data`.
 */
export async function compressVariants(data: Uint8Array, options: Pick<ResolvedCompressOptions, 'encodings' | 'brotliQuality'>): Promise<Variant[]> {
  const pool = new CompressPool(1)
  try {
    return await pool.compress(data, options)
  } finally {
    await pool.close()
  }
}

// The worker runs the same one-shot calls as compressVariantsSync. Inline
// source, so the same code runs from src/ (TypeScript, in tests) and dist/.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { brotliCompressSync, gzipSync, constants } = require('node:zlib')
parentPort.on('message', ({ id, data, encodings, brotliQuality, gzipLevel }) => {
  try {
    const out = []
    for (const encoding of encodings) {
      const bytes = encoding === 'br'
        ? brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: brotliQuality, [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT } })
        : gzipSync(data, { level: gzipLevel })
      if (bytes.length < data.byteLength) out.push({ encoding, bytes })
    }
    parentPort.postMessage({ id, out })
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) })
  }
})
`

/** How many compression threads `collectstatic` starts: the cores left beside the main thread, at most 4. */
export function compressThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1))
}

/**
 * Worker threads compressing files while the main thread reads and writes.
 * zlib's async functions would run on libuv's thread pool instead, which
 * file I/O needs too (and they cost a thread hop per 16 KiB chunk): measured
 * on 2,000 files, three times slower than these one-shot calls in a worker.
 */
export class CompressPool {
  private readonly workers: Array<{ worker: Worker; busy: number }> = []
  private readonly pending = new Map<number, { resolve: (v: Variant[]) => void; reject: (e: Error) => void; slot: { worker: Worker; busy: number } }>()
  private next = 0

  /** @param size threads to start (lazily, on first use). */
  constructor(private readonly size: number = compressThreads()) {}

  /** @returns the variants of `data` smaller than it. @throws Error when compression fails. */
  compress(data: Uint8Array, options: Pick<ResolvedCompressOptions, 'encodings' | 'brotliQuality'>): Promise<Variant[]> {
    const slot = this.pick()
    const id = this.next++
    if (slot.busy++ === 0) slot.worker.ref()
    return new Promise<Variant[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot })
      slot.worker.postMessage({ id, data, encodings: [...options.encodings], brotliQuality: options.brotliQuality, gzipLevel: GZIP_LEVEL })
    })
  }

  /** Stops the threads. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()))
    this.workers.length = 0
  }

  private pick(): { worker: Worker; busy: number } {
    if (this.workers.length < this.size && this.workers.every((w) => w.busy > 0)) {
      const worker = new Worker(WORKER_SOURCE, { eval: true })
      const slot = { worker, busy: 0 }
      worker.on('message', (m: { id: number; out?: Array<{ encoding: Encoding; bytes: Uint8Array }>; error?: string }) => {
        const p = this.pending.get(m.id)
        if (!p) return
        this.pending.delete(m.id)
        // An idle pool must not keep the process alive; a busy one must.
        if (--p.slot.busy === 0) p.slot.worker.unref()
        if (m.error !== undefined) p.reject(new Error(`compression failed: ${m.error}`))
        else p.resolve(m.out!.map((v) => ({ encoding: v.encoding, bytes: Buffer.from(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength) })))
      })
      worker.on('error', (err) => {
        for (const [id, p] of this.pending) {
          if (p.slot !== slot) continue
          this.pending.delete(id)
          p.reject(err)
        }
        slot.busy = 0
        worker.unref()
      })
      this.workers.push(slot)
      return slot
    }
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a))
  }
}

/**
 * Reads an `Accept-Encoding` header (RFC 9110 §12.5.3) with `negotiator`, the
 * parser Express uses: codings with a q-value of 0 are refused, `*` stands
 * for every coding not named, and `x-gzip` for `gzip`, as RFC 9110 asks.
 * @returns the codings of `available` the client accepts, in our order of preference (br, then gzip). Never throws.
 */
export function acceptedEncodings(header: string | string[] | undefined, available: readonly Encoding[] = ENCODINGS): Encoding[] {
  if (!header) return []
  // `x-gzip` is renamed `gzip` before negotiating, so it is gzip named, refusals included:
  // `x-gzip;q=0, *` refuses gzip as `gzip;q=0, *` does. Named both ways, the higher q wins.
  // Only each item's coding (before its parameters) is looked at; negotiator reads the rest.
  const items = (Array.isArray(header) ? header.join(',') : header).split(',')
  const text = items
    .map((item) => {
      const semi = item.indexOf(';')
      const coding = (semi === -1 ? item : item.slice(0, semi)).trim().toLowerCase()
      return coding === 'x-gzip' ? `gzip${semi === -1 ? '' : item.slice(semi)}` : item
    })
    .join(',')
  const accepted = new Negotiator({ headers: { 'accept-encoding': text } }).encodings([...available])
  return available.filter((e) => accepted.includes(e))
}
