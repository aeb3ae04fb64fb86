/**
 * Names that must be refused with `SuspiciousFileOperationError` by every
 * storage, before any I/O. `{x}` is replaced with a random token so a test
 * can check afterwards that nothing named after it was written anywhere.
 */
export const HOSTILE_NAMES: readonly string[] = [
  '../{x}.txt',
  '../../{x}.txt',
  'a/../../{x}.txt',
  'a/b/../../../{x}.txt',
  '..',
  '.',
  '',
  '/',
  'dir/',
  '/etc/{x}',
  '//{x}.txt',
  '/tmp/../{x}.txt',
  '..\\{x}.txt',
  'a\\..\\..\\{x}.txt',
  '\\\\server\\share\\{x}',
  'C:\\Windows\\{x}.txt',
  'C:{x}.txt',
  'c:/{x}.txt',
  '{x}\u0000.txt',
  'a/\u0000/{x}',
  '{x}\n.txt',
  '{x}\r\nSet-Cookie: a=b',
  `${'a'.repeat(256)}/{x}.txt`,
  `${'d/'.repeat(600)}{x}.txt`,
]

/**
 * Names holding percent escapes of `.`, `/`, `\` and NUL, plain and
 * double-encoded. In a name these are literal characters (Django's fixture
 * `test/%2F.txt` is one), so every storage must accept each one unchanged and
 * keep it inside the storage: `..%2f{x}.txt` is one file named that, in the
 * root, not `{x}.txt` above it. They stay dangerous only to something that
 * URL-decodes a name, which no Stowage layer does (see `hostileRequestPaths`).
 */
export const ENCODED_NAMES: readonly string[] = [
  'test/%2F{x}.txt',
  '%2e%2e/{x}.txt',
  '%2E%2E%2F{x}.txt',
  '..%2f{x}.txt',
  '..%5c{x}.txt',
  '%252e%252e%252f{x}.txt',
  'a/%2e%2e/%2e%2e/{x}',
  '{x}%00.txt',
]

/**
 * URL paths (to put after a serving prefix such as `/static/`) that reach
 * `{x}.txt` one or two levels above the served root if a server decodes them
 * once, twice, or treats `\` as a separator: `..`, `%2e%2e`, `..%2f`,
 * `%252e%252e%252f` and the rest. A server that decodes the path exactly once
 * and validates the result with `safeName` serves none of them from outside
 * its root: the single-encoded ones decode to a traversal and are refused, the
 * double-encoded ones decode to a literal name such as `..%2f{x}.txt`, which
 * lies inside the root.
 */
export const HOSTILE_REQUEST_PATHS: readonly string[] = [
  '../{x}.txt',
  '../../{x}.txt',
  'a/../../{x}.txt',
  '%2e%2e/{x}.txt',
  '%2E%2E%2F{x}.txt',
  '..%2f{x}.txt',
  '..%2F..%2F{x}.txt',
  'a/%2e%2e/%2e%2e/{x}.txt',
  '..%5c{x}.txt',
  '%5c..%5c{x}.txt',
  '.%2e/{x}.txt',
  '%2f..%2f{x}.txt',
  '%252e%252e%252f{x}.txt',
  '..%252f{x}.txt',
  '..%252F..%252F{x}.txt',
  '%252e%252e/{x}.txt',
  '..%255c{x}.txt',
  '%25252e%25252e%25252f{x}.txt',
  '{x}.txt%00',
  '..%00/{x}.txt',
  '%c0%ae%c0%ae/{x}.txt',
]

/** @returns `list` with every `{x}` replaced by `token`. */
const withToken = (list: readonly string[], token: string): string[] => list.map((n) => n.replaceAll('{x}', token))

/** @returns `HOSTILE_NAMES` with `{x}` replaced by `token`. Never throws. */
export function hostileNames(token: string): string[] {
  return withToken(HOSTILE_NAMES, token)
}

/** @returns `ENCODED_NAMES` with `{x}` replaced by `token`. Never throws. */
export function encodedNames(token: string): string[] {
  return withToken(ENCODED_NAMES, token)
}

/** @returns `HOSTILE_REQUEST_PATHS` with `{x}` replaced by `token`. Never throws. */
export function hostileRequestPaths(token: string): string[] {
  return withToken(HOSTILE_REQUEST_PATHS, token)
}
