/**
 * The compression phase of `collectstatic`: `.br`/`.gz` variants of the
 * hashed copies just written (or already stored), compressed in worker
 * threads while earlier ones are saved.
 */
import { readFile } from 'node:fs/promises'
import type { Storage } from '@stowage/core'
import type { CollectRecord } from './collect-record.js'
import { toCollectError, type CollectError } from './collect-error.js'
import type { CollectProgress } from './collectstatic.js'
import { contentTypeFor } from './content-types.js'
import { md5Hex } from './hashing.js'
import { mapLimit } from './map-limit.js'
import { CompressPool, variantName, type Encoding, type ResolvedCompressOptions } from './precompress.js'
import type { ResolvedCacheControl, StaticSaveOptions } from './save-hints.js'

/** A hashed copy to make variants of: its name, the MD5 of what is stored, how to make its rewritten bytes, and its source. */
export interface HashedWrite {
  target: string
  md5: string
  /** The rewritten content (kept by the plan, or made again from the source); `undefined` when not rewritten or not planned this run. */
  rewrite?: () => Buffer | undefined
  source: { md5: string; bytes?: Buffer; file: string }
}

/**
 * Writes `.br`/`.gz` beside each compressible hashed file that does not
 * have them yet, compressing several files at once. A hashed name fixes
 * its content, so variants recorded as stored are never made again.
 * @returns the variants written, and what the record should say is compressed.
 */
export async function writeVariants(
  store: Storage,
  hashed: HashedWrite[],
  o: {
    compress: ResolvedCompressOptions
    cacheControl: ResolvedCacheControl
    state: CollectRecord | undefined
    dryRun: boolean
    concurrency: number
    signal: AbortSignal | undefined
    checkAbort: () => void
    onProgress: ((event: CollectProgress) => void) | undefined
    errors: CollectError[]
    failed: Set<string>
    known: Record<string, string>
  },
): Promise<{ written: string[]; compressed: Record<string, Encoding[]>; failed: boolean }> {
  const compressed: Record<string, Encoding[]> = {}
  const written: string[] = []
  let failed = false
  const todo: HashedWrite[] = []
  for (const w of hashed) {
    const recorded = o.state?.compressed?.[w.target]
    if (recorded && recorded.every((e) => o.state!.files[variantName(w.target, e)] !== undefined)) {
      compressed[w.target] = recorded
      for (const e of recorded) o.known[variantName(w.target, e)] = o.state!.files[variantName(w.target, e)]!
    } else todo.push(w)
  }
  let done = 0
  const pool = new CompressPool()
  try {
    await mapLimit(todo, o.concurrency, async (w) => {
      o.checkAbort()
      try {
        const bytes = await hashedBytes(store, w)
        const variants = await pool.compress(bytes, o.compress)
        for (const v of variants) {
          const name = variantName(w.target, v.encoding)
          const hints: StaticSaveOptions = {
            overwrite: true,
            signal: o.signal,
            ...(o.cacheControl.hashed !== undefined && { cacheControl: o.cacheControl.hashed }),
            ...(o.compress.contentEncoding
              ? { contentType: contentTypeFor(w.target), contentEncoding: v.encoding }
              : { contentType: v.encoding === 'gzip' ? 'application/gzip' : 'application/octet-stream' }),
          }
          written.push(name)
          try {
            if (!o.dryRun) await store.save(name, v.bytes, hints)
            o.known[name] = md5Hex(v.bytes)
          } catch (err) {
            o.checkAbort()
            o.failed.add(name)
            failed = true
            o.errors.push(toCollectError(name, err))
          }
        }
        if (variants.every((v) => !o.failed.has(variantName(w.target, v.encoding)))) compressed[w.target] = variants.map((v) => v.encoding)
      } catch (err) {
        o.checkAbort()
        o.failed.add(w.target)
        failed = true
        o.errors.push(toCollectError(w.target, err))
      }
      o.onProgress?.({ phase: 'compress', done: ++done, total: todo.length })
    })
  } finally {
    await pool.close()
  }
  return { written: written.filter((n) => !o.failed.has(n)), compressed, failed }
}

/** @returns the bytes stored under a hashed name: the plan's rewritten content, the source's bytes, or (plan reused) what the storage holds. */
async function hashedBytes(store: Storage, w: HashedWrite): Promise<Uint8Array> {
  const rewritten = w.rewrite?.()
  if (rewritten) return rewritten
  if (w.md5 === w.source.md5) return w.source.bytes ?? readFile(w.source.file)
  return store.read(w.target)
}
