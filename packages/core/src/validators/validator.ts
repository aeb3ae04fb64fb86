/**
 * The validator contract. Validators see the bytes actually received, as
 * they stream, before anything is stored: a size rule is consulted on every
 * chunk (so an oversized upload is cut off at the limit), and header rules
 * look at the first bytes of the file only (magic bytes, image headers).
 */
import type { ValidationFailure } from '../errors.js'

/** A content type found from the bytes themselves, not from what the client declared. */
export interface DetectedType {
  /** Canonical extension without a dot, e.g. `png`. */
  ext: string
  /** MIME type, e.g. `image/png`. */
  mime: string
}

/** What the client said about the upload: neither is trusted, both are checked. */
export interface UploadInfo {
  /** The file name the client sent (only its extension matters to validators). */
  filename?: string
  /** The content type the client declared. */
  contentType?: string
}

/** Facts learnt while validating, handed back to the caller (fields store them). */
export interface UploadFacts {
  /** Bytes received. */
  size: number
  /** Type found from magic bytes (or markup sniffing), when recognised. */
  type?: DetectedType
  /** Image dimensions read from the header. */
  width?: number
  height?: number
}

/** What a header rule sees. */
export interface HeadContext extends UploadInfo {
  /** The first bytes of the file: everything received so far, up to the header limit. */
  head: Uint8Array
  /** No more bytes will come for the header: decide now (`'more'` now counts as a failure). */
  final: boolean
  /** The stream was cut off by a size rule: judge the bytes you have if you can, or return `'more'` to abstain. */
  truncated: boolean
  /**
   * `head` is the whole file. False while bytes may still come, when the
   * header limit (`MAX_HEAD_BYTES`) was reached, or when the stream was cut off:
   * a rule that must see everything (SVG) refuses what it cannot see.
   */
  complete: boolean
  /** @returns the type detected from `head` (undefined when unknown), computed once and shared by every rule of a round. Never rejects. */
  detect(): Promise<DetectedType | undefined>
}

/** A header rule's answer: failures and facts, or `'more'` to see more bytes first. */
export type HeadVerdict = 'more' | { failures?: ValidationFailure[]; facts?: Partial<Omit<UploadFacts, 'size'>> }

/**
 * One upload rule. Implement `checkSize` to watch the byte count (called on
 * every chunk and at the end), `checkHead` to inspect the first bytes, or both.
 */
export interface Validator {
  /** The rule name reported in failures, e.g. `maxSize`. */
  readonly rule: string
  /** How many leading bytes `checkHead` wants before it is first asked. */
  readonly headBytes?: number
  /** @returns failures for `size` bytes received; `final` once the stream has ended. Should not throw; a throw counts as a failure (`Could not check: <its message>`) and cuts the stream off. */
  checkSize?(size: number, final: boolean): ValidationFailure[] | undefined
  /** @returns the verdict on the file's first bytes. Should not throw; a throw counts as a failure. */
  checkHead?(ctx: HeadContext): HeadVerdict | Promise<HeadVerdict>
}
