/**
 * Where the variants of a stored image live (`@stowage/images`), known to
 * core so that what cleans media up (`cleanMedia` in `@stowage/cli`) can tell
 * a variant of a referenced image from an orphan without depending on the
 * image package.
 */
import { createHash } from 'node:crypto'
import { MAX_SEGMENT_BYTES } from './paths.js'

/**
 * The folder holding every variant of the stored image `source`:
 * `avatars/me.jpg` → `avatars/me.jpg.variants`. A name too long to take the
 * suffix is shortened and made unique again with a digest of the whole name.
 * @returns the folder's name (no trailing slash). Throws nothing.
 */
export function variantsDir(source: string): string {
  const dir = `${source}.variants`
  const last = dir.slice(dir.lastIndexOf('/') + 1)
  if (Buffer.byteLength(last) <= MAX_SEGMENT_BYTES) return dir
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 12)
  const head = source.slice(0, source.lastIndexOf('/') + 1)
  // 50 characters are at most 200 bytes of UTF-8, which leaves room for the digest and suffix.
  return `${head}${[...last].slice(0, 50).join('')}-${digest}.variants`
}
