/**
 * HTTP-date (RFC 9110 §5.6.7), as `If-Modified-Since` and `If-Range` carry
 * it. `Date.parse` is not a parser of it: it takes `0` (the year 2000),
 * `9999`, ISO strings and `foo 2030`, so a garbage header could earn a 304
 * or a range of another version of the file. This one takes the three forms
 * a recipient must accept, and nothing else:
 *
 * - IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
 * - RFC 850 (obsolete): `Sunday, 06-Nov-94 08:49:37 GMT`
 * - asctime (obsolete): `Sun Nov  6 08:49:37 1994`
 *
 * Read by a hand tokenizer: the value is cut into words, numbers and the
 * separators between them (each space, comma, colon and dash its own token),
 * and the token list must be one of the three shapes exactly.
 */

type Token = { kind: 'word' | 'number' | 'sep'; text: string }

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const SEPARATORS = ' ,:-'

const isDigit = (c: string) => c >= '0' && c <= '9'
const isLetter = (c: string) => (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')

/** @returns the tokens of `value`, or undefined when it holds a character no HTTP-date has. */
function tokenize(value: string): Token[] | undefined {
  const tokens: Token[] = []
  let i = 0
  while (i < value.length) {
    const c = value[i]!
    if (SEPARATORS.includes(c)) {
      tokens.push({ kind: 'sep', text: c })
      i++
      continue
    }
    const kind = isDigit(c) ? 'number' : isLetter(c) ? 'word' : undefined
    if (!kind) return undefined
    const test = kind === 'number' ? isDigit : isLetter
    let j = i + 1
    while (j < value.length && test(value[j]!)) j++
    tokens.push({ kind, text: value.slice(i, j) })
    i = j
  }
  return tokens
}

/** Reads tokens in order; every `take` must match or the whole parse fails. */
class Reader {
  private at = 0
  constructor(private readonly tokens: Token[]) {}

  /** The next token's text if it is `kind` (and `digits` long, for numbers), else undefined; consumed either way. */
  take(kind: 'word' | 'number', digits?: number): string | undefined {
    const t = this.tokens[this.at++]
    return t && t.kind === kind && (digits === undefined || t.text.length === digits) ? t.text : undefined
  }

  /** Whether the next token is the separator `sep` (consumed). */
  sep(sep: string): boolean {
    const t = this.tokens[this.at++]
    return t !== undefined && t.kind === 'sep' && t.text === sep
  }

  /** Whether the next token is the separator `sep`, without consuming a different one. */
  peekSep(sep: string): boolean {
    const t = this.tokens[this.at]
    return t !== undefined && t.kind === 'sep' && t.text === sep
  }

  get done(): boolean {
    return this.at >= this.tokens.length
  }
}

interface Parts {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

/** `hh:mm:ss`, each two digits. */
function timeOfDay(r: Reader): Pick<Parts, 'hour' | 'minute' | 'second'> | undefined {
  const h = r.take('number', 2)
  if (h === undefined || !r.sep(':')) return undefined
  const m = r.take('number', 2)
  if (m === undefined || !r.sep(':')) return undefined
  const s = r.take('number', 2)
  if (s === undefined) return undefined
  return { hour: Number(h), minute: Number(m), second: Number(s) }
}

const month = (text: string | undefined) => (text === undefined ? -1 : MONTHS.indexOf(text))

/**
 * The two forms that name the day, then day, month and year, then the time in
 * GMT: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`: short day names, spaces,
 * a four-digit year) and RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`: long day
 * names, dashes, a two-digit year, whose century the caller settles).
 */
function dayMonthYear(r: Reader, days: readonly string[], between: ' ' | '-', yearDigits: 2 | 4): Parts | undefined {
  if (!days.includes(r.take('word') ?? '') || !r.sep(',') || !r.sep(' ')) return undefined
  const day = r.take('number', 2)
  if (day === undefined || !r.sep(between)) return undefined
  const mon = month(r.take('word'))
  if (mon < 0 || !r.sep(between)) return undefined
  const year = r.take('number', yearDigits)
  if (year === undefined || !r.sep(' ')) return undefined
  const time = timeOfDay(r)
  if (!time || !r.sep(' ') || r.take('word') !== 'GMT') return undefined
  return { year: Number(year), month: mon, day: Number(day), ...time }
}

const imfFixdate = (r: Reader) => dayMonthYear(r, DAYS, ' ', 4)
const rfc850 = (r: Reader) => dayMonthYear(r, LONG_DAYS, '-', 2)

/** `Sun Nov  6 08:49:37 1994` (a one-digit day after two spaces) or `Sun Nov 16 08:49:37 1994`. */
function asctime(r: Reader): Parts | undefined {
  if (!DAYS.includes(r.take('word') ?? '') || !r.sep(' ')) return undefined
  const mon = month(r.take('word'))
  if (mon < 0 || !r.sep(' ')) return undefined
  const padded = r.peekSep(' ') && r.sep(' ')
  const day = r.take('number', padded ? 1 : 2)
  if (day === undefined || !r.sep(' ')) return undefined
  const time = timeOfDay(r)
  if (!time || !r.sep(' ')) return undefined
  const year = r.take('number', 4)
  if (year === undefined) return undefined
  return { year: Number(year), month: mon, day: Number(day), ...time }
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
const daysIn = (y: number, m: number) => [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m]!

/** @returns the instant in ms, or undefined for a day, hour, minute or second that does not exist. */
function instant(p: Parts): number | undefined {
  // Second 60 is the leap second RFC 9110 allows; read as :59, so a date never lands in the next minute.
  if (p.day < 1 || p.day > daysIn(p.year, p.month) || p.hour > 23 || p.minute > 59 || p.second > 60) return undefined
  const date = new Date(0)
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  date.setUTCFullYear(p.year, p.month, p.day)
  date.setUTCHours(p.hour, p.minute, Math.min(p.second, 59), 0)
  return date.getTime()
}

/**
 * Parses an HTTP-date in any of the three forms RFC 9110 §5.6.7 has a
 * recipient accept (case-sensitive, as the grammar is; surrounding spaces
 * are allowed). An RFC 850 two-digit year is the one of the current century,
 * or of the last when that would be more than 50 years after `now` (as the RFC says).
 * The day name is not checked against the date.
 * @param now the clock (ms) the two-digit-year rule counts from; default `Date.now()`.
 * @returns the instant in milliseconds since the epoch, or undefined for anything
 *   that is not a valid HTTP-date (a caller then acts as if the header were absent). Never throws.
 */
export function parseHttpDate(value: string | undefined, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined
  const tokens = tokenize(value.trim())
  if (!tokens) return undefined
  for (const form of [imfFixdate, rfc850, asctime]) {
    const r = new Reader(tokens)
    const parts = form(r)
    if (!parts || !r.done) continue
    if (form === rfc850) {
      const current = new Date(now).getUTCFullYear()
      // The year with these last two digits that is at most 50 years ahead and less than 50 behind.
      let year = current - (current % 100) + parts.year
      if (year > current + 50) year -= 100
      else if (year <= current - 50) year += 100
      parts.year = year
    }
    return instant(parts)
  }
  return undefined
}
