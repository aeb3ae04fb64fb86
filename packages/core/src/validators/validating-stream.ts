/**
 * Runs validators over a byte stream as it flows to a storage. The head of
 * the file is held back until every header rule has decided, so a refused
 * file never reaches the backend at all; size rules see every chunk and cut
 * the stream off at the limit. On refusal the stream errors with one
 * `ValidationError` listing every rule that failed, which makes the
 * storage's write fail, and a failed write leaves nothing behind.
 */
import { Transform, pipeline, type TransformCallback } from 'node:stream'
import { toSource, type Content } from '../content.js'
import { ValidationError, type ValidationFailure } from '../errors.js'
import { detectType } from './detect-type.js'
import type { DetectedType, HeadContext, UploadFacts, UploadInfo, Validator } from './validator.js'

/** Most bytes held back for header rules (a JPEG may put its frame header after large EXIF blocks). */
export const MAX_HEAD_BYTES = 1024 * 1024

/** A Transform that validates the bytes passing through it. */
export class ValidatingStream extends Transform {
  /** Facts gathered so far (size, detected type, dimensions); complete once the stream has ended. */
  readonly facts: UploadFacts = { size: 0 }
  /** The refusal, once the stream has failed validation. */
  validationError: ValidationError | undefined
  private readonly headRules: Validator[]
  private readonly sizeRules: Validator[]
  private readonly verdicts = new Map<Validator, ValidationFailure[]>()
  private held: Buffer[] = []
  private heldBytes = 0
  private released = false
  private detected: Promise<DetectedType | undefined> | undefined
  private markReady!: () => void
  /**
   * Settles once every header rule has decided: resolves when the file's head
   * passed (bytes then flow on), rejects with the refusal or the source's
   * error. Lets a caller learn the real content type before it starts a save.
   */
  readonly ready: Promise<void>

  constructor(
    private readonly validators: readonly Validator[],
    private readonly info: UploadInfo = {},
  ) {
    super()
    this.headRules = validators.filter((v) => v.checkHead)
    this.sizeRules = validators.filter((v) => v.checkSize)
    this.released = this.headRules.length === 0
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve
      this.once('error', reject)
    })
    this.ready.catch(() => {}) // callers that never await it must not see an unhandled rejection
    if (this.released) this.markReady()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.facts.size += chunk.length
    const sizeFailures = this.sizeFailures(false)
    if (sizeFailures.length) {
      // Cut off now; header rules judge what arrived, if they can.
      if (!this.released) this.held.push(chunk)
      void this.decideHead('cut').then(() => done(this.refuse(sizeFailures)), done)
      return
    }
    if (this.released) return done(null, chunk)
    this.held.push(chunk)
    this.heldBytes += chunk.length
    void this.decideHead(this.heldBytes >= MAX_HEAD_BYTES ? 'final' : 'more').then(() => done(this.releaseIfDecided()), done)
  }

  override _flush(done: TransformCallback): void {
    void this.decideHead('final').then(() => {
      const failures = [...this.headFailures(), ...this.sizeFailures(true)]
      if (failures.length) return done(this.refuse(failures, false))
      const err = this.releaseIfDecided()
      if (!err) this.markReady()
      done(err)
    }, done)
  }

  private sizeFailures(final: boolean): ValidationFailure[] {
    return this.sizeRules.flatMap((v) => v.checkSize!(this.facts.size, final) ?? [])
  }

  private headFailures(): ValidationFailure[] {
    return this.headRules.flatMap((v) => this.verdicts.get(v) ?? [])
  }

  private refuse(extra: ValidationFailure[], withHead = true): ValidationError {
    this.validationError = new ValidationError(withHead ? [...this.headFailures(), ...extra] : extra, {
      context: { filename: this.info.filename, size: this.facts.size },
    })
    this.held = []
    return this.validationError
  }

  /** Asks every undecided header rule; with 'cut', a rule that wants more bytes is left undecided. */
  private async decideHead(mode: 'more' | 'final' | 'cut'): Promise<void> {
    if (this.released) return
    const head = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held)
    this.held = head.length ? [head] : []
    for (const rule of this.headRules) {
      if (this.verdicts.has(rule)) continue
      if (mode === 'more' && head.length < (rule.headBytes ?? 0)) continue
      const ctx: HeadContext = { ...this.info, head, final: mode === 'final', truncated: mode === 'cut', detect: () => (this.detected ??= detectType(head)) }
      let verdict
      try {
        verdict = await rule.checkHead!(ctx)
      } catch (err) {
        verdict = { failures: [{ rule: rule.rule, message: `Could not check: ${err instanceof Error ? err.message : String(err)}` }] }
      }
      if (verdict === 'more') continue
      this.verdicts.set(rule, verdict.failures ?? [])
      Object.assign(this.facts, verdict.facts)
    }
    // The shared detection was for this head only; a longer head may tell more.
    this.detected = undefined
  }

  /** Once every header rule has spoken: refuse, or let the held bytes through. */
  private releaseIfDecided(): ValidationError | null {
    if (this.released || this.verdicts.size < this.headRules.length) return null
    const failures = this.headFailures()
    if (failures.length) return this.refuse([], true)
    this.released = true
    for (const b of this.held) this.push(b)
    this.held = []
    this.markReady()
    return null
  }
}

/**
 * Wraps `content` so that `validators` check it while it streams.
 * @returns a `ValidatingStream`: save it, then read `facts`; if it fails,
 *   `validationError` holds the `ValidationError` listing every failed rule.
 * @throws TypeError when `content` is not a `Content`.
 */
export function validateContent(content: Content, validators: readonly Validator[], info: UploadInfo = {}): ValidatingStream {
  const checker = new ValidatingStream(validators, info)
  // pipeline() propagates a truncated or failed source into the checker and
  // destroys the source when the checker refuses or the save is aborted.
  pipeline(toSource(content).stream, checker, () => {})
  return checker
}

/**
 * Validates `content` completely without storing it.
 * @returns the facts (size, detected type, dimensions).
 * @throws ValidationError listing every failed rule; the source's own error if it fails.
 */
export async function validate(content: Content, validators: readonly Validator[], info: UploadInfo = {}): Promise<UploadFacts> {
  const checker = validateContent(content, validators, info)
  try {
    for await (const _ of checker) {
      // drain: the bytes are only being checked
    }
  } catch (err) {
    throw checker.validationError ?? err
  }
  return checker.facts
}
