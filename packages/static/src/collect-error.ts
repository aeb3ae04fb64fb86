import { isStorageError } from '@stowage/core'

/** A file that could not be stored or deleted. */
export interface CollectError {
  path: string
  message: string
  code: string
}

/** @returns `err` as a summary entry for `path`, with its code (`ESTORAGE` when it has none). */
export function toCollectError(path: string, err: unknown): CollectError {
  return {
    path,
    message: err instanceof Error ? err.message : String(err),
    code: isStorageError(err) ? err.code : ((err as NodeJS.ErrnoException)?.code ?? 'ESTORAGE'),
  }
}
