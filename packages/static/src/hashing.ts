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
  return (await hashFile(file)).md5
}

/**
 * The Subresource Integrity value of `data`: SHA-384, as Propshaft and most
 * CDNs publish it (browsers also accept SHA-256 and SHA-512).
 * @returns `sha384-<base64>`.
 */
export function integrityOf(data: Uint8Array | string): string {
  return `sha384-${createHash('sha384').update(data).digest('base64')}`
}

/**
 * Streams a file once through MD5 (for its hashed name) and SHA-384 (for its
 * integrity), without holding it in memory.
 * @returns both digests. @throws the `fs` error when the file cannot be read.
 */
export async function hashFile(file: string): Promise<{ md5: string; integrity: string }> {
  const md5 = createHash('md5')
  const sha = createHash('sha384')
  for await (const chunk of createReadStream(file)) {
    md5.update(chunk as Buffer)
    sha.update(chunk as Buffer)
  }
  return { md5: md5.digest('hex'), integrity: `sha384-${sha.digest('base64')}` }
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

/** @returns the hash `hashedName(name, hash)` put into `hashed`, or `undefined` when `hashed` is not a hashed name of `name`. */
export function hashIn(name: string, hashed: string): string | undefined {
  const [, ext] = splitExt(name.slice(name.lastIndexOf('/') + 1))
  const at = name.length - ext.length + 1
  const hash = hashed.slice(at, at + HASH_LENGTH)
  return hash.length === HASH_LENGTH && hashedName(name, hash) === hashed ? hash : undefined
}

const HASHED = /\.[0-9a-f]{12}(\.[^./]*)?$/

/** @returns whether a name looks like one `hashedName` produced (for cache headers). */
export function looksHashed(name: string): boolean {
  return HASHED.test(name)
}
