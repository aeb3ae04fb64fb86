import type { ByteRange, Content, CopyOptions, DirectoryListing, FileStat, SaveOptions, Storage, UrlOptions } from '@stowage/core'
import type { Readable } from 'node:stream'

/**
 * Wraps a storage and counts the calls that cost I/O, so tests can assert
 * that a no-op re-run writes (and asks) nothing.
 */
export class CountingStorage implements Storage {
  /** Names written, by `save` or `copy`. */
  saves: string[] = []
  /** Names written by `copy`, as `from -> to`. */
  copies: string[] = []
  deletes: string[] = []
  stats = 0
  reads = 0
  /** The names read (`open` or `read`), in order. */
  readNames: string[] = []
  /** The directories listed, in order. */
  listings: string[] = []

  constructor(readonly inner: Storage) {}

  get baseUrl(): string | undefined {
    return (this.inner as { baseUrl?: string }).baseUrl
  }

  reset(): void {
    this.saves = []
    this.copies = []
    this.deletes = []
    this.stats = 0
    this.reads = 0
    this.readNames = []
    this.listings = []
  }

  save(name: string, content: Content, options?: SaveOptions): Promise<string> {
    this.saves.push(name)
    return this.inner.save(name, content, options)
  }
  copy(from: string, to: string, options?: CopyOptions): Promise<string> {
    if (!this.inner.copy) throw new Error('the wrapped storage has no copy()')
    this.saves.push(to)
    this.copies.push(`${from} -> ${to}`)
    return this.inner.copy(from, to, options)
  }
  open(name: string, options?: ByteRange): Promise<Readable> {
    this.reads++
    this.readNames.push(name)
    return this.inner.open(name, options)
  }
  read(name: string): Promise<Uint8Array> {
    this.reads++
    this.readNames.push(name)
    return this.inner.read(name)
  }
  delete(name: string): Promise<void> {
    this.deletes.push(name)
    return this.inner.delete(name)
  }
  exists(name: string): Promise<boolean> {
    this.stats++
    return this.inner.exists(name)
  }
  size(name: string): Promise<number> {
    this.stats++
    return this.inner.size(name)
  }
  stat(name: string): Promise<FileStat> {
    this.stats++
    return this.inner.stat(name)
  }
  listdir(path: string): Promise<DirectoryListing> {
    this.listings.push(path)
    return this.inner.listdir(path)
  }
  url(name: string, options?: UrlOptions): Promise<string> {
    return this.inner.url(name, options)
  }
  getValidName(name: string): string {
    return this.inner.getValidName(name)
  }
  getAvailableName(name: string, options?: { maxLength?: number }): Promise<string> {
    return this.inner.getAvailableName(name, options)
  }
  generateFilename(filename: string): string {
    return this.inner.generateFilename(filename)
  }
}
