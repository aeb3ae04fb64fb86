/**
 * Python's `fnmatch.fnmatchcase`, which Django's staticfiles uses for ignore
 * patterns: `*` matches anything, `/` included; `?` one character; `[...]`
 * a class, `[!...]` its negation.
 */
const cache = new Map<string, RegExp>()

function translate(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') re += '[\\s\\S]*'
    else if (c === '?') re += '[\\s\\S]'
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2)
      if (close < 0) {
        re += '\\['
        continue
      }
      let body = pattern.slice(i + 1, close)
      const negate = body.startsWith('!')
      if (negate) body = body.slice(1)
      re += `[${negate ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\^/g, '\\^')}]`
      i = close
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

/** @returns whether `name` matches the shell-style `pattern` (case-sensitive). */
export function fnmatch(name: string, pattern: string): boolean {
  let re = cache.get(pattern)
  if (!re) {
    re = translate(pattern)
    cache.set(pattern, re)
  }
  return re.test(name)
}

/** @returns whether `name` matches any of `patterns` (Django's `matches_patterns`). */
export function matchesPatterns(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => fnmatch(name, p))
}

/** Django's default `ignore_patterns` for collectstatic: VCS folders, dotfiles, editor backups. */
export const DEFAULT_IGNORE_PATTERNS: readonly string[] = ['CVS', '.*', '*~']
