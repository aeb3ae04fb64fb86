/**
 * Everything `save()` accepts, turned into one shape for the backends: a Node
 * `Readable` of bytes plus the size when it is known up front (S3 needs it to
 * choose between a single PUT and a multipart upload).
 */
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'

/** What can be saved: text (UTF-8), bytes, a Node or web stream, or a Blob/File. */
export type Content = string | Uint8Array | NodeJS.ReadableStream | ReadableStream<Uint8Array> | Blob

/** A normalised body: a byte stream, and its length when known in advance. */
export interface ContentSource {
  stream: Readable
  /** Byte length, when known without reading (strings, bytes, Blobs). */
  size?: number
  /** The whole body, when it was given in memory: lets backends skip streaming. */
  bytes?: Uint8Array
}

/**
 * A stream that knows its exact length in advance declares it under this key
 * (a validating stream over a Blob of known size, which passes bytes through
 * unchanged). `toSource` keeps it as `size`, so wrapping content does not
 * hide its length from the backend (S3 chooses a PUT or a multipart upload by
 * it). Internal to core.
 */
export const KNOWN_SIZE: unique symbol = Symbol('stowage.knownSize')

/** A Readable that may declare its exact length (see `KNOWN_SIZE`). */
export type SizedReadable = Readable & { [KNOWN_SIZE]?: number }

function isWebStream(c: unknown): c is ReadableStream<Uint8Array> {
  return typeof (c as ReadableStream)?.getReader === 'function'
}

function isBlob(c: unknown): c is Blob {
  return typeof Blob !== 'undefined' && c instanceof Blob
}

/**
 * Bytes in memory. The stream is built on first use: backends that write
 * `bytes` directly never ask, and a stream per small save is a measurable
 * part of its CPU (an object literal with a getter costs more than this class).
 */
class BytesSource implements ContentSource {
  readonly size: number
  private built: Readable | undefined

  constructor(readonly bytes: Uint8Array) {
    this.size = bytes.byteLength
  }

  get stream(): Readable {
    return (this.built ??= Readable.from([this.bytes], { objectMode: false }))
  }
}

/**
 * Normalises `content` for a backend.
 * @returns a source whose `stream` is read lazily; `size` and `bytes` are set when known without reading.
 * @throws TypeError for anything that is not a `Content`.
 */
export function toSource(content: Content): ContentSource {
  if (typeof content === 'string') content = Buffer.from(content, 'utf8')
  if (content instanceof Uint8Array) {
    return new BytesSource(content)
  }
  if (isBlob(content)) {
    return { stream: Readable.fromWeb(content.stream() as WebReadableStream<Uint8Array>), size: content.size }
  }
  if (content instanceof Readable) {
    const size = (content as SizedReadable)[KNOWN_SIZE]
    return size === undefined ? { stream: content } : { stream: content, size }
  }
  if (isWebStream(content)) return { stream: Readable.fromWeb(content as WebReadableStream<Uint8Array>) }
  if (typeof (content as NodeJS.ReadableStream)?.pipe === 'function') {
    // An old-style stream (e.g. from a library predating streams2).
    return { stream: new Readable().wrap(content as NodeJS.ReadableStream) }
  }
  throw new TypeError(`Cannot save content of type ${Object.prototype.toString.call(content)}`)
}

/** @returns the whole stream as one buffer (strings as UTF-8). @throws whatever the stream errors with. */
export async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
  return Buffer.concat(chunks)
}
