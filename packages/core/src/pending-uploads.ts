/**
 * The names of direct uploads waiting for confirmation, in one place for
 * every backend: `<prefix>/<32 hex>/<name>` for the upload, `<prefix>/<id>.done`
 * for the marker that makes confirmation one-shot. The random id is what
 * nobody else can guess; the name is the one asked for, held to `safeName`.
 */
import { randomBytes } from 'node:crypto'
import { SuspiciousFileOperationError } from './errors.js'
import { safeName, STOWAGE_PREFIX } from './paths.js'

/** Default storage-name prefix of pending uploads. */
export const PENDING_PREFIX = `${STOWAGE_PREFIX}-pending`

const ID = /^[0-9a-f]{32}$/

/** A pending upload's parts: the token (a storage name), its random id, and the name asked for. */
export interface PendingUpload {
  upload: string
  id: string
  name: string
}

/**
 * A fresh pending upload of `name` under `prefix`.
 * @returns its token, id and the validated name.
 * @throws SuspiciousFileOperationError for an unsafe name (before any I/O).
 */
export function newPendingUpload(name: string, prefix: string = PENDING_PREFIX): PendingUpload {
  // The same gate as save(): a hostile name is refused, an ordinary one is kept as written.
  const clean = safeName(name)
  const id = randomBytes(16).toString('hex')
  return { upload: safeName(`${prefix}/${id}/${clean}`), id, name: clean }
}

/**
 * Reads a token back.
 * @returns its parts.
 * @throws SuspiciousFileOperationError when it is not a pending upload under `prefix`: anything
 *   else could make a confirmation promote an arbitrary file (another user's) to a name the caller owns.
 */
export function parsePendingUpload(token: string, prefix: string = PENDING_PREFIX): PendingUpload {
  const upload = safeName(String(token))
  const rest = upload.startsWith(`${prefix}/`) ? upload.slice(prefix.length + 1) : ''
  const slash = rest.indexOf('/')
  const id = rest.slice(0, slash)
  if (slash < 0 || !isPendingId(id)) throw new SuspiciousFileOperationError(`Not a pending upload: '${token}'`, { context: { name: token } })
  return { upload, id, name: rest.slice(slash + 1) }
}

/** @returns whether `id` has the form of a pending upload's random id (32 lowercase hex digits). Never throws. */
export function isPendingId(id: string): boolean {
  return ID.test(id)
}

/** @returns the storage name of the marker that says upload `id` was confirmed. Never throws. */
export function pendingMarker(id: string, prefix: string = PENDING_PREFIX): string {
  return `${prefix}/${id}.done`
}
