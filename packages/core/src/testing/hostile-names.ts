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
  '%2e%2e/{x}.txt',
  '%2E%2E%2F{x}.txt',
  '..%2f{x}.txt',
  '..%5c{x}.txt',
  '%252e%252e%252f{x}.txt',
  'a/%2e%2e/%2e%2e/{x}',
  '{x}%00.txt',
  `${'a'.repeat(256)}/{x}.txt`,
  `${'d/'.repeat(600)}{x}.txt`,
]

/** `HOSTILE_NAMES` with `{x}` replaced by `token`. */
export function hostileNames(token: string): string[] {
  return HOSTILE_NAMES.map((n) => n.replaceAll('{x}', token))
}
