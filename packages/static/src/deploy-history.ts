/**
 * The manifests of past deploys, so `cleanStatic` knows which hashed files
 * pages cached before the last deploy may still ask for. `collectstatic`
 * adds the manifest of each run that changes it as
 * `.stowage-deploys/<sequence>-<manifest hash>.json` beside the manifest;
 * `cleanStatic` reads the newest and prunes the rest. A sequence number
 * rather than a time: the same deploys give the same names, so a re-run
 * after an interrupted one ends exactly where an uninterrupted run ends.
 */
import type { Storage } from '@stowage/core'
import { parseManifest, serializeManifest, utf8, type Manifest } from './manifest.js'
import { PRIVATE_RECORD } from './save-hints.js'

/** Directory of the deploy history, beside the manifest. */
export const DEPLOYS_DIR = '.stowage-deploys'

const ENTRY = /^(\d{8})-[^/]*\.json$/

/** @returns the history name of the `sequence`th deploy: `.stowage-deploys/00000042-<hash>.json`. */
export function deployName(sequence: number, hash: string): string {
  return `${DEPLOYS_DIR}/${String(sequence).padStart(8, '0')}-${hash}.json`
}

/**
 * Adds `manifest` to the history in `storage` (private, never cached),
 * unless the newest entry already is this manifest.
 * @param text the manifest as serialised, when the caller has it already (it is a megabyte on a large tree).
 * @returns its name.
 * @throws StorageError when the history cannot be listed or the entry saved.
 */
export async function recordDeploy(storage: Storage, manifest: Manifest, text = serializeManifest(manifest)): Promise<string> {
  const [newest] = await listDeploys(storage)
  if (newest?.endsWith(`-${manifest.hash}.json`)) return newest
  const sequence = newest ? Number(ENTRY.exec(newest.slice(DEPLOYS_DIR.length + 1))![1]) + 1 : 1
  const name = deployName(sequence, manifest.hash)
  await storage.save(name, text, { ...PRIVATE_RECORD })
  return name
}

/** @returns the history's names, newest first (empty when there is none). */
export async function listDeploys(storage: Storage): Promise<string[]> {
  const { files } = await storage.listdir(DEPLOYS_DIR)
  return files
    .filter((f) => ENTRY.test(f))
    .sort()
    .reverse()
    .map((f) => `${DEPLOYS_DIR}/${f}`)
}

/** @returns the manifest of one deploy. @throws StorageError (`EMANIFEST`) when it cannot be parsed. */
export async function readDeploy(storage: Storage, name: string): Promise<Manifest> {
  return parseManifest(utf8(await storage.read(name)), name)
}
