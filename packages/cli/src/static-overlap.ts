/**
 * The staticfiles storage must not overlap a source directory (Django's
 * staticfiles.E002, which checks only that they are not the same). Output
 * inside a source is collected again by the next run, one level deeper each
 * time (`static/out/out/out/...`); a source inside the output is what
 * `--clear` deletes. Both are configuration mistakes, reported before
 * anything is written.
 */
import { realpath } from 'node:fs/promises'
import path from 'node:path'
import { ConfigurationError, type Storage, type StowageConfig } from '@stowage/core'

/**
 * The real path of `dir` (through links such as a deploy's `static -> releases/42/static`):
 * of its nearest existing ancestor when it does not exist yet, as the output often does not.
 */
async function real(dir: string): Promise<string> {
  const rest: string[] = []
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    try {
      return path.join(await realpath(p), ...rest)
    } catch {
      if (path.dirname(p) === p) return path.resolve(dir)
      rest.unshift(path.basename(p))
    }
  }
}

/** Whether `inner` is `outer` or under it. */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

/**
 * Checks that the directory the staticfiles storage writes to (its
 * `describe().location`, when that is a directory on this machine) and each
 * of `staticfiles.dirs` neither are the same nor contain one another.
 * Storages elsewhere (a bucket, memory) are not checked.
 * @throws ConfigurationError naming `storages.staticfiles.options.location` and the source directory it overlaps.
 */
export async function checkStaticOverlap(config: StowageConfig, storage: Storage): Promise<void> {
  const location = (await storage.describe?.())?.location
  if (!location || !path.isAbsolute(location)) return
  const output = await real(location)
  const root = config.root ?? process.cwd()
  for (const [i, entry] of (config.staticfiles?.dirs ?? []).entries()) {
    const dir = typeof entry === 'string' ? entry : entry[1]
    const source = await real(path.resolve(root, dir))
    const where = `staticfiles.dirs[${i}] ('${dir}')`
    let why: string | undefined
    if (output === source) why = `is the source directory ${where}: collectstatic would copy files onto themselves, and --clear delete them`
    else if (within(output, source)) why = `is inside the source directory ${where}: each collectstatic would collect its own output again, one level deeper`
    else if (within(source, output)) why = `contains the source directory ${where}: collectstatic --clear would delete the sources`
    if (why) {
      throw new ConfigurationError(`'${location}' ${why}. Collect into a directory of its own`, {
        key: 'storages.staticfiles.options.location',
        env: 'STOWAGE_STATICFILES_LOCATION',
      })
    }
  }
}
