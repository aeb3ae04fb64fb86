/**
 * `checkProject()`: what `stowage check` reports, as data (Django's
 * `check --deploy`). Loads and validates the configuration, builds every
 * storage, probes each one through the contract (reachable, credentials
 * accepted; with `write`, a save/read/delete round trip under a scratch
 * prefix) and adds deploy warnings. The command only prints the report.
 */
import { randomBytes } from 'node:crypto'
import {
  ConfigurationError,
  envName,
  isStorageError,
  loadConfig,
  StorageRegistry,
  type Storage,
  type StorageDescription,
  type StowageConfig,
} from '@stowage/core'
import { isManifestStorage } from '@stowage/static'
import { checkStaticOverlap } from './static-overlap.js'

/**
 * Name prefix of probe files, at each storage's root (not in a directory of
 * their own, which a local disk would keep after the file is deleted).
 */
export const CHECK_PREFIX = '.stowage-check-'

/** One finding. `id` is stable (`stowage.W003`), for silencing in CI scripts. */
export interface CheckMessage {
  level: 'error' | 'warning'
  id: string
  /** The alias concerned, if any. */
  alias?: string
  /** The configuration key to change, and the variable that sets it. */
  key?: string
  env?: string
  message: string
}

/** One probe of one storage. */
export interface ProbeResult {
  /** `reachable` (a lookup: the bucket or directory answers, the credentials are accepted), `sign`, `write`, `read`, `delete`. */
  name: 'reachable' | 'sign' | 'write' | 'read' | 'delete'
  ok: boolean
  ms: number
  /** The error's code and message when it failed. */
  error?: { code: string; message: string }
}

/** What was found out about one alias. */
export interface StorageReport {
  alias: string
  /** From the storage's `describe()`; absent when it could not be built. */
  description?: StorageDescription
  probes: ProbeResult[]
}

/** The whole report. `ok` is false when there is any error. */
export interface CheckReport {
  ok: boolean
  /** The configuration's root directory, when it was found. */
  root?: string
  storages: StorageReport[]
  messages: CheckMessage[]
  errors: number
  warnings: number
}

/** Options for `checkProject`. */
export interface CheckOptions {
  cwd?: string
  /** The config file, instead of looking for one. */
  file?: string
  env?: NodeJS.ProcessEnv
  /** Also save, read back and delete a small file in each storage. */
  write?: boolean
  /** Clock for probe timings; inject in tests. */
  now?: () => number
}

function messageOf(err: unknown): { code: string; message: string } {
  if (isStorageError(err)) return { code: err.code, message: err.message }
  return { code: 'ERROR', message: err instanceof Error ? err.message : String(err) }
}

function configMessage(err: unknown, id: string, alias?: string): CheckMessage {
  if (err instanceof ConfigurationError) {
    return { level: 'error', id, ...(alias && { alias }), ...(err.key && { key: err.key }), ...(err.env && { env: err.env }), message: err.message }
  }
  return { level: 'error', id, ...(alias && { alias }), message: messageOf(err).message }
}

async function probe(name: ProbeResult['name'], now: () => number, run: () => Promise<void>): Promise<ProbeResult> {
  const start = now()
  try {
    await run()
    return { name, ok: true, ms: Math.round(now() - start) }
  } catch (err) {
    return { name, ok: false, ms: Math.round(now() - start), error: messageOf(err) }
  }
}

/** Reachability, signing and (optionally) a round trip through the storage's public API. */
async function probeStorage(storage: Storage, description: StorageDescription, write: boolean, now: () => number): Promise<ProbeResult[]> {
  const name = `${CHECK_PREFIX}${randomBytes(8).toString('hex')}.txt`
  const results = [await probe('reachable', now, async () => void (await storage.exists(name)))]
  if (!results[0]!.ok) return results
  if (description.signing !== 'none') results.push(await probe('sign', now, async () => void (await storage.url(name, { expiresIn: 60 }))))
  if (!write) return results
  const body = `stowage check ${randomBytes(8).toString('hex')}\n`
  let stored: string | undefined
  results.push(await probe('write', now, async () => void (stored = await storage.save(name, body, { contentType: 'text/plain' }))))
  if (stored === undefined) return results
  results.push(
    await probe('read', now, async () => {
      const got = Buffer.from(await storage.read(stored!)).toString('utf8')
      if (got !== body) throw new Error(`read back ${JSON.stringify(got.slice(0, 40))}, wrote ${JSON.stringify(body)}`)
    }),
  )
  results.push(
    await probe('delete', now, async () => {
      await storage.delete(stored!)
      if (await storage.exists(stored!)) throw new Error(`'${stored}' still exists after delete()`)
    }),
  )
  return results
}

const PUBLIC_ACLS = new Set(['public-read', 'public-read-write', 'authenticated-read'])

/** Deploy warnings from the configuration (data) and each storage's description. */
async function deployWarnings(
  config: StowageConfig,
  fileOnly: StowageConfig | undefined,
  registry: StorageRegistry,
  reports: StorageReport[],
): Promise<CheckMessage[]> {
  const out: CheckMessage[] = []
  const warn = (id: string, message: string, extra: Partial<CheckMessage> = {}) => out.push({ level: 'warning', id, message, ...extra })
  const described = new Map(reports.filter((r) => r.description).map((r) => [r.alias, r.description!]))
  if (!config.storages.default) {
    warn('stowage.W001', "no 'default' storage: fields without a storage option use it", { key: 'storages.default', env: 'STOWAGE_DEFAULT_BACKEND' })
  }
  for (const [alias, entry] of Object.entries(config.storages)) {
    const options = entry.options ?? {}
    const d = described.get(alias)
    const key = (option: string) => ({ alias, key: `storages.${alias}.options.${option}`, env: envName(alias, option) })
    if (d?.signing === 'none' && (options.expiresIn !== undefined || /private/i.test(alias))) {
      warn(
        'stowage.W007',
        `storages.${alias} looks meant for signed URLs (${options.expiresIn !== undefined ? 'expiresIn is set' : 'a private alias'}) but cannot sign them: url(name, { expiresIn }) will fail`,
        key('signingSecret'),
      )
    }
    const fileSecret = fileOnly?.storages[alias]?.options?.signingSecret
    if (typeof fileSecret === 'string' && fileSecret === options.signingSecret) {
      warn(
        'stowage.W008',
        `storages.${alias}'s signing secret is the one written in the config file; give the deployed app its own through the environment`,
        key('signingSecret'),
      )
    }
    if (typeof options.defaultAcl === 'string' && PUBLIC_ACLS.has(options.defaultAcl) && options.querystringAuth !== false) {
      warn(
        'stowage.W006',
        `storages.${alias} uploads objects with the '${options.defaultAcl}' ACL while url() presigns them: anyone who guesses a key can read it`,
        key('defaultAcl'),
      )
    }
  }
  const staticEntry = config.storages.staticfiles
  if (!staticEntry) {
    warn('stowage.W002', "no 'staticfiles' storage: stowage collectstatic has nowhere to put static files", {
      key: 'storages.staticfiles',
      env: 'STOWAGE_STATICFILES_BACKEND',
    })
    return out
  }
  if (!staticEntry.manifest) {
    warn('stowage.W003', 'static URLs will not be hashed: without a manifest, browsers keep old CSS and JS after a deploy (set manifest: true)', {
      alias: 'staticfiles',
      key: 'storages.staticfiles.manifest',
      env: 'STOWAGE_STATICFILES_MANIFEST',
    })
  }
  let staticStorage: Storage | undefined
  try {
    staticStorage = registry.get('staticfiles')
  } catch {
    // Its options are wrong: reported already (stowage.E002).
  }
  if (staticStorage) {
    try {
      await checkStaticOverlap(config, staticStorage)
    } catch (err) {
      out.push(configMessage(err, 'stowage.E006', 'staticfiles'))
    }
  }
  const d = described.get('staticfiles')
  if (d && d.baseUrl === undefined) {
    warn(
      'stowage.W005',
      'static files have no public URL in this storage (every URL is presigned), so pages link /static/ and the app must serve them; make the bucket public (querystringAuth: false) or give customDomain',
      {
        alias: 'staticfiles',
        key: 'storages.staticfiles.options.querystringAuth',
        env: 'STOWAGE_STATICFILES_QUERYSTRING_AUTH',
      },
    )
  }
  const reachable = reports.find((r) => r.alias === 'staticfiles')?.probes[0]?.ok
  if (staticEntry.manifest && reachable) {
    try {
      const storage = registry.get('staticfiles')
      if (isManifestStorage(storage) && (await storage.loadManifest()) === null) {
        warn(
          'stowage.W004',
          'no staticfiles.json in the staticfiles storage yet: run stowage collectstatic before serving (production pages would fail to render)',
          { alias: 'staticfiles' },
        )
      }
    } catch (err) {
      out.push(configMessage(err, 'stowage.E004', 'staticfiles'))
    }
  }
  return out
}

/**
 * Checks a project's configuration and storages.
 * @returns the report; it never throws for a problem it finds (those are `messages`).
 */
export async function checkProject(options: CheckOptions = {}): Promise<CheckReport> {
  const now = options.now ?? (() => performance.now())
  const messages: CheckMessage[] = []
  const reports: StorageReport[] = []
  const finish = (root?: string): CheckReport => {
    const errors = messages.filter((m) => m.level === 'error').length
    return { ok: errors === 0, ...(root && { root }), storages: reports, messages, errors, warnings: messages.length - errors }
  }
  const load = { cwd: options.cwd, file: options.file }
  let config: StowageConfig
  try {
    config = await loadConfig({ ...load, env: options.env, warn: (message) => messages.push({ level: 'warning', id: 'stowage.W009', message }) })
  } catch (err) {
    messages.push(configMessage(err, 'stowage.E001'))
    return finish()
  }
  // The file alone, to tell secrets written in it from secrets the environment gave.
  const fileOnly = await loadConfig({ ...load, env: {}, warn: () => {} }).catch(() => undefined)
  const registry = new StorageRegistry()
  try {
    await registry.configure(config)
  } catch (err) {
    messages.push(configMessage(err, 'stowage.E001'))
    return finish(config.root)
  }
  for (const alias of registry.aliases()) {
    const report: StorageReport = { alias, probes: [] }
    reports.push(report)
    let storage: Storage
    try {
      storage = registry.get(alias)
    } catch (err) {
      messages.push(configMessage(err, 'stowage.E002', alias))
      continue
    }
    const description = (await storage.describe?.()) ?? { backend: storage.constructor.name, location: '', signing: 'none' as const }
    report.description = description
    // The manifest wrapper resolves names through its manifest (a probe file is in none): probe what it wraps.
    report.probes = await probeStorage(isManifestStorage(storage) ? storage.storage : storage, description, options.write ?? false, now)
    for (const p of report.probes.filter((r) => !r.ok)) {
      const err = p.error!
      const config = err.code === 'ECONFIG' ? /^(storages\.\S+) \((STOWAGE_\w+)\)/.exec(err.message) : null
      messages.push({
        level: 'error',
        id: p.name === 'reachable' ? 'stowage.E003' : 'stowage.E005',
        alias,
        ...(config && { key: config[1], env: config[2] }),
        message: `storages.${alias}: ${p.name} failed: ${err.message}`,
      })
    }
  }
  messages.push(...(await deployWarnings(config, fileOnly, registry, reports)))
  return finish(config.root)
}
