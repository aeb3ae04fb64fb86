/**
 * Runs validators over a byte stream as it flows to a storage. The head of
 * the file is held back until every header rule has decided, so a refused
 * file never reaches the backend at all; size rules see every chunk and cut
 * the stream off at the limit. On refusal the stream errors with one
 * `ValidationError` listing every rule that failed, which makes the
 * storage's write fail, and a failed write leaves nothing behind.
 * `validateStored` applies the same rules to a file already stored.
 */
import { Transform, pipeline, type TransformCallback } from 'node:stream'
import { KNOWN_SIZE, toSource, type Content } from '../content.js'
import { InvalidArgumentError, ValidationError, type ValidationFailure } from '../errors.js'
import { detectType } from './detect-type.js'
import type { DetectedType, HeadContext, HeadVerdict, UploadFacts, UploadInfo, Validator } from './validator.js'

/** Most bytes held back for header rules (a JPEG may put its frame header after large EXIF blocks). */
export const MAX_HEAD_BYTES = 1024 * 1024

/** How far a head has got: what `HeadContext` tells the rules, besides the bytes. */
type HeadState = Pick<HeadContext, 'final' | 'truncated' | 'complete'>

/** A rule that threw could not decide: that is a failure of its own (header and size rules alike), never a pass. */
function couldNotCheck(rule: Validator, err: unknown): ValidationFailure {
  return { rule: rule.rule, message: `Could not check: ${err instanceof Error ? err.message : String(err)}` }
}

/**
 * Asks every header rule without a verdict yet about `head`, recording each
 * verdict's failures in `verdicts` and its facts in `facts`. Before the
 * final round, a rule that wants more than `head` holds is not asked.
 */
async function askHeadRules(
  rules: readonly Validator[],
  head: Uint8Array,
  state: HeadState,
  info: UploadInfo,
  verdicts: Map<Validator, ValidationFailure[]>,
  facts: UploadFacts,
): Promise<void> {
  // Detection is shared by the rules of one round only: a longer head may tell more.
  let detected: Promise<DetectedType | undefined> | undefined
  const ctx: HeadContext = { ...info, head, ...state, detect: () => (detected ??= detectType(head)) }
  for (const rule of rules) {
    if (verdicts.has(rule)) continue
    if (!state.final && !state.truncated && head.byteLength < (rule.headBytes ?? 0)) continue
    let verdict: HeadVerdict
    try {
      verdict = await rule.checkHead!({ ...ctx })
    } catch (err) {
      verdict = { failures: [couldNotCheck(rule, err)] }
    }
    if (verdict === 'more') {
      if (!state.final) continue
      // Left undecided, the rule would hold the file back forever.
      verdict = { failures: [{ rule: rule.rule, message: 'Could not check: the rule asked for more bytes after the last' }] }
    }
    verdicts.set(rule, verdict.failures ?? [])
    Object.assign(facts, verdict.facts)
  }
}

/**
 * Asks every size rule of `rules` (those with `checkSize`) about `size`, as
 * streams and `validateStored` do: a rule that throws is a failure of its own
 * (`Could not check: ...`). `final` says the size is the whole file's.
 * @returns the failures, empty when every rule passes. Never throws.
 */
export function sizeFailures(rules: readonly Validator[], size: number, final: boolean): ValidationFailure[] {
  return rules.flatMap((v) => {
    if (!v.checkSize) return []
    // Caught here, not left to the caller: thrown out of `_transform` (or the
    // `_flush` callback) it escaped the stream, so the save never settled
    // and the process saw an uncaught exception.
    try {
      return v.checkSize(size, final) ?? []
    } catch (err) {
      return [couldNotCheck(v, err)]
    }
  })
}

function headFailures(rules: readonly Validator[], verdicts: Map<Validator, ValidationFailure[]>): ValidationFailure[] {
  return rules.flatMap((v) => verdicts.get(v) ?? [])
}

function validationError(failures: ValidationFailure[], info: UploadInfo, size: number): ValidationError {
  return new ValidationError(failures, { context: { filename: info.filename, size } })
}

/** A Transform that validates the bytes passing through it. */
export class ValidatingStream extends Transform {
  /** The content's exact length when it was known up front (bytes, text, a Blob): these bytes pass through unchanged. */
  [KNOWN_SIZE]?: number
  /** The whole content, when it was given in memory (see `content()`). */
  private readonly inMemory: Uint8Array | undefined
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
  private markReady!: () => void
  /**
   * Settles once every header rule has decided: resolves when the file's head
   * passed (bytes then flow on), rejects with the refusal or the source's
   * error. Lets a caller learn the real content type before it starts a save.
   */
  readonly ready: Promise<void>

  /**
   * @param source what is known of the content before it streams (as
   *   `validateContent` normalised it): its length, and its bytes when in
   *   memory, so that what is saved keeps them. Never throws; a refusal errors
   *   the stream (and rejects `ready`) with a ValidationError.
   */
  constructor(
    private readonly validators: readonly Validator[],
    private readonly info: UploadInfo = {},
    source: { size?: number; bytes?: Uint8Array } = {},
  ) {
    super()
    if (source.size !== undefined) this[KNOWN_SIZE] = source.size
    this.inMemory = source.bytes
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

  /** Node's Transform hook, not for callers: counts and holds bytes until the header rules decide. */
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.facts.size += chunk.length
    const sizeFailures = this.sizeFailures(false)
    if (sizeFailures.length) {
      // Cut off now; header rules judge what arrived, if they can.
      if (!this.released) this.held.push(chunk)
      void this.decideHead({ final: false, truncated: true, complete: false }).then(() => done(this.refuse(sizeFailures)), done)
      return
    }
    if (this.released) return done(null, chunk)
    this.held.push(chunk)
    this.heldBytes += chunk.length
    void this.decideHead({ final: this.heldBytes >= MAX_HEAD_BYTES, truncated: false, complete: false }).then(() => done(this.releaseIfDecided()), done)
  }

  /** Node's Transform hook, not for callers: the final verdicts once the source has ended. */
  override _flush(done: TransformCallback): void {
    // Still holding the head at the end means it holds the whole file.
    void this.decideHead({ final: true, truncated: false, complete: true }).then(() => {
      const failures = [...this.headFailures(), ...this.sizeFailures(true)]
      if (failures.length) return done(this.refuse(failures, false))
      const err = this.releaseIfDecided()
      if (!err) this.markReady()
      done(err)
    }, done)
  }

  /**
   * What to hand a storage, once `ready` has resolved. Content given in
   * memory is validated to its end first and then handed over as the bytes
   * themselves, so the backend sees its size and bytes (S3 sends one PUT
   * instead of buffering a stream to learn its length) and a refused file
   * still reaches no backend. Anything else is this stream, which declares
   * the content's length when it was known (a Blob).
   * @returns the bytes, or this stream.
   * @throws ValidationError listing every failed rule; the source's own error.
   */
  async content(): Promise<Content> {
    const bytes = this.inMemory
    if (!bytes) return this
    try {
      for await (const _ of this) {
        // drain: the bytes are only being checked, the originals are stored
      }
    } catch (err) {
      throw this.validationError ?? err
    }
    return bytes
  }

  private sizeFailures(final: boolean): ValidationFailure[] {
    return sizeFailures(this.sizeRules, this.facts.size, final)
  }

  private headFailures(): ValidationFailure[] {
    return headFailures(this.headRules, this.verdicts)
  }

  private refuse(extra: ValidationFailure[], withHead = true): ValidationError {
    this.validationError = validationError(withHead ? [...this.headFailures(), ...extra] : extra, this.info, this.facts.size)
    this.held = []
    return this.validationError
  }

  /** Asks every undecided header rule about the bytes held so far. */
  private async decideHead(state: HeadState): Promise<void> {
    if (this.released) return
    const head = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held)
    this.held = head.length ? [head] : []
    await askHeadRules(this.headRules, head, state, this.info, this.verdicts, this.facts)
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
 * @returns a `ValidatingStream`: save it (or, after `ready`, what its
 *   `content()` returns), then read `facts`; if it fails, `validationError`
 *   holds the `ValidationError` listing every failed rule.
 * @throws TypeError when `content` is not a `Content`.
 */
export function validateContent(content: Content, validators: readonly Validator[], info: UploadInfo = {}): ValidatingStream {
  // Normalised once, here: what is known of the content (its size, its
  // bytes) stays with the checker, which is what a storage is handed.
  const source = toSource(content)
  const checker = new ValidatingStream(validators, info, source)
  // pipeline() propagates a truncated or failed source into the checker and
  // destroys the source when the checker refuses or the save is aborted.
  pipeline(source.stream, checker, () => {})
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

/**
 * Validates a file that is already stored (e.g. an object a browser uploaded
 * straight to S3) from its first bytes and its size, with the same rules and
 * the same verdicts as a stream: every header rule is asked once, as at the
 * end of a stream, and every size rule once with the final size. Pass up to
 * `MAX_HEAD_BYTES` of the file; a head shorter than `size` is judged as
 * incomplete (an SVG is then refused, since it must be read whole).
 * @returns the facts (`size` as given, detected type, dimensions).
 * @throws ValidationError listing every failed rule, as `ValidatingStream` does.
 * @throws InvalidArgumentError (`EINVAL`) when `size` is not a non-negative integer.
 */
export async function validateStored(head: Uint8Array, size: number, validators: readonly Validator[], info: UploadInfo = {}): Promise<UploadFacts> {
  if (!Number.isSafeInteger(size) || size < 0)
    throw new InvalidArgumentError(`validateStored size must be a non-negative integer, got ${size}`, { argument: 'size' })
  const facts: UploadFacts = { size }
  const verdicts = new Map<Validator, ValidationFailure[]>()
  const headRules = validators.filter((v) => v.checkHead)
  await askHeadRules(headRules, head, { final: true, truncated: false, complete: head.byteLength >= size }, info, verdicts, facts)
  const failures = [
    ...headFailures(headRules, verdicts),
    ...sizeFailures(
      validators.filter((v) => v.checkSize),
      size,
      true,
    ),
  ]
  if (failures.length) throw validationError(failures, info, size)
  return facts
}
