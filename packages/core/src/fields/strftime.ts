/**
 * The strftime subset Django's `upload_to` patterns use (`'avatars/%Y/%m/%d/'`),
 * in UTC so that every server of a deployment files an upload under the same date.
 */
import { InvalidArgumentError } from '../errors.js'

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

const DIRECTIVES: Record<string, (d: Date) => string> = {
  Y: (d) => String(d.getUTCFullYear()),
  y: (d) => pad(d.getUTCFullYear() % 100),
  m: (d) => pad(d.getUTCMonth() + 1),
  d: (d) => pad(d.getUTCDate()),
  H: (d) => pad(d.getUTCHours()),
  M: (d) => pad(d.getUTCMinutes()),
  S: (d) => pad(d.getUTCSeconds()),
  j: (d) => pad(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3),
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  '%': () => '%',
}

/**
 * Formats `date` (in UTC) with `%Y %y %m %d %H %M %S %j %s %%`.
 * @returns the formatted string.
 * @throws InvalidArgumentError (`EINVAL`) for any other directive, so a typo does not become a directory name.
 */
export function strftime(pattern: string, date: Date): string {
  return pattern.replace(/%(.)/g, (_m, c: string) => {
    const f = DIRECTIVES[c]
    if (!f) throw new InvalidArgumentError(`Unsupported strftime directive '%${c}' in '${pattern}'`, { argument: 'uploadTo' })
    return f(date)
  })
}
