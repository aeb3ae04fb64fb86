/**
 * Content hashes and hashed names, exactly as Django's `HashedFilesMixin`
 * builds them, so a manifest we write names the same files Django would.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'

/** Length of the hash Django puts in a file name (`file_hash()[:12]`). */
export const HASH_LENGTH = 12

/** @returns the hex MD5 of `data` (32 characters). */
export function md5Hex(data: Uint8Array | string): string {
  return createHash('md5').update(data).digest('hex')
}

/**
 * Streams a file through MD5 without holding it in memory.
 * @returns the hex digest. @throws the `fs` error when the file cannot be read.
 */
export async function md5File(file: string): Promise<string> {
  const hash = createHash('md5')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * Python's `posixpath.splitext` on a base name: the extension is the last
 * dot-suffix, unless only dots precede it (`.htaccess` has none).
 * @returns `[root, ext]`, `ext` with its dot or `''`.
 */
export function splitExt(base: string): [root: string, ext: string] {
  const dot = base.lastIndexOf('.')
  if (dot <= 0) return [base, '']
  for (let i = 0; i < dot; i++) if (base[i] !== '.') return [base.slice(0, dot), base.slice(dot)]
  return [base, '']
}

/**
 * Inserts a content hash before the last extension, as Django does:
 * `css/app.css` → `css/app.55e7cbb9ba48.css`, `js/x.min.js` → `js/x.min.<hash>.js`.
 * @returns the hashed name; `hash` is cut to 12 characters.
 */
export function hashedName(name: string, hash: string): string {
  const slash = name.lastIndexOf('/')
  const dir = name.slice(0, slash + 1)
  const [root, ext] = splitExt(name.slice(slash + 1))
  return `${dir}${root}.${hash.slice(0, HASH_LENGTH)}${ext}`
}

const HASHED = /\.[0-9a-f]{12}(\.[^./]*)?$/

/** @returns whether a name looks like one `hashedName` produced (for cache headers). */
export function looksHashed(name: string): boolean {
  return HASHED.test(name)
}
