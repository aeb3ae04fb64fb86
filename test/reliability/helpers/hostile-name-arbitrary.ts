/**
 * A fast-check arbitrary for file names an attacker might send: traversal,
 * absolute and drive paths, NUL and control bytes, percent-encoding,
 * look-alike unicode in every normalisation form, Windows reserved names,
 * over-long names, mixed separators, lone surrogates, and plain noise.
 * Names are built from fragments so the dangerous pieces turn up in every
 * position and combination, not only where a hand-written table puts them.
 */
import fc from 'fast-check'

// Pieces that mean something to some layer below us.
const DANGEROUS = [
  '..',
  '.',
  '',
  '...',
  '....',
  '~',
  '$HOME',
  '%',
  '%%',
  '%2e',
  '%2E',
  '%2e%2e',
  '%2f',
  '%2F',
  '%5c',
  '%00',
  '%252e%252e',
  '%c0%ae',
  '%u002e',
  '..%2f',
  '..%5c',
  '\u0000',
  '\n',
  '\r\n',
  '\t',
  '\u007f',
  '\u001b[31m',
  'C:',
  'c:',
  'Z:\\',
  '\\\\?\\',
  '\\\\server\\share',
  '\\',
  '\\..\\',
  '/..',
  '../',
  // Windows reserved device names and trailing dots/spaces Windows strips.
  'CON',
  'con.txt',
  'NUL',
  'nul.tar.gz',
  'AUX',
  'PRN',
  'COM1',
  'LPT9',
  'CONIN$',
  'a.',
  'a ',
  ' ',
  'a::$DATA',
  // Look-alikes: fullwidth dot/slash/backslash, one/two-dot leaders, division and fraction slash.
  '\uff0e\uff0e',
  '\uff0f',
  '\uff3c',
  '\u2024\u2024',
  '\u2025',
  '\u2215',
  '\u2044',
  '\u29f8',
  '\u0338',
  // Same text in different normalisation forms: é precomposed and decomposed, Å, ﬁ ligature, Hangul.
  '\u00e9',
  'e\u0301',
  '\u212b',
  '\u00c5',
  'A\u030a',
  '\ufb01',
  '\u1100\u1161',
  '\uac00',
  // Zero-width and bidi characters that hide what a name looks like.
  '\u200b',
  '\u200d',
  '\u202e',
  '\ufeff',
  '\u00a0',
  // Invalid UTF-16.
  '\ud800',
  '\udc00',
  '\udbff\udfff',
  // Long pieces: one over the segment limit, one near the whole-name limit.
  'a'.repeat(255),
  'b'.repeat(256),
  '\u00e9'.repeat(128),
  'x'.repeat(1030),
  'etc',
  'passwd',
  'tmp',
  'proc',
  'self',
  'root',
  '.ssh',
  '.git',
  'index.html',
  '.htaccess',
]

const SEPARATORS = ['/', '\\', '//', '/./', '\\/', '/\\', '\uff0f', '%2f', '\u0000/']

const fragment = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...DANGEROUS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/) },
)

/** A name built from dangerous fragments joined by assorted separators, in an assorted normalisation form. */
export const hostileName: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('', '', '', '/', '\\', '//', 'C:\\', 'c:/', '\\\\?\\C:\\', './', '~/', 'file:///'),
    fc.array(fc.tuple(fragment, fc.constantFrom(...SEPARATORS)), { minLength: 1, maxLength: 8 }),
    fc.constantFrom('', '', '', '/', '\\', '.', ' ', '\u0000', '.txt', '.tar.gz'),
    fc.constantFrom('none', 'none', 'NFC', 'NFD', 'NFKC', 'NFKD'),
  )
  .map(([lead, parts, tail, form]) => {
    const body = parts.map(([f, sep], i) => (i === parts.length - 1 ? f : f + sep)).join('')
    const name = lead + body + tail
    // normalize() on a lone surrogate keeps it, so every form stays hostile.
    return form === 'none' ? name : name.normalize(form as 'NFC')
  })

/** Hostile names, and now and then a fully random string, so the generator has no blind spot of its own. */
export const anyName: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: hostileName },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 1100 }) },
)
