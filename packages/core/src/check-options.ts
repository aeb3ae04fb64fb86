/**
 * Refusing what a constructor would otherwise ignore: a misspelt option
 * (`baseURL`, `bucketName`) silently falls back to a default, which is how
 * private files end up public. Every backend checks its options with these.
 */
import { ConfigurationError } from './errors.js'

/** Levenshtein distance, case-insensitive: `baseURL` is 0 from `baseUrl`. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i)
  for (let i = 1; i <= x.length; i++) {
    const row = [i]
    for (let j = 1; j <= y.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[y.length]!
}

/**
 * The candidate closest to `word` (case-insensitive edit distance), if one is
 * close enough to be a likely typo: at most two edits, or a third of `word`'s
 * letters when that is more; one containing the other (both at least four
 * letters long) counts as 1.5 edits.
 * @returns the suggestion, or undefined. Never throws.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestScore = Infinity
  const lower = word.toLowerCase()
  for (const c of candidates) {
    const d = distance(word, c)
    const contained = c.length >= 4 && lower.length >= 4 && (lower.includes(c.toLowerCase()) || c.toLowerCase().includes(lower))
    const score = contained ? Math.min(d, 1.5) : d
    if (score < bestScore) {
      best = c
      bestScore = score
    }
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined
}

/** @returns `" (did you mean 'x'?)"` with the `closest` candidate, or `''`. Never throws. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const near = closest(word, candidates)
  return near === undefined ? '' : ` (did you mean '${near}'?)`
}

/**
 * Refuses options an owner does not know. Returns nothing.
 * @param owner what the options are for, e.g. `FileSystemStorage`, for the message.
 * @param hints extra advice for names people often try (e.g. `private`).
 * @throws ConfigurationError naming the unknown key, with the nearest known one.
 */
export function checkOptionNames(options: object, known: Iterable<string>, owner: string, hints: Record<string, string> = {}): void {
  const names = [...known]
  const set = new Set(names)
  for (const key of Object.keys(options)) {
    if (set.has(key)) continue
    const hint = Object.hasOwn(hints, key) ? `: ${hints[key]}` : didYouMean(key, names)
    throw new ConfigurationError(`is not a ${owner} option${hint}`, { key })
  }
}
