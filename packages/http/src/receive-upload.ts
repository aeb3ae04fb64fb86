/**
 * Streams a `multipart/form-data` request straight into file fields: each
 * file part flows through the field's validators into its storage as it
 * arrives, so no whole file is ever held in memory. Limits on file count,
 * field count, part count, field size and total request size are enforced
 * while parsing. If anything fails, every file this request stored is
 * deleted again and the records get their previous names back: a refused
 * request leaves nothing behind.
 */
import type { IncomingMessage } from 'node:http'
import { MIMEType } from 'node:util'
import { PassThrough, Transform, type Readable } from 'node:stream'
import busboy from 'busboy'
import { AbortedError, ValidationError, type FieldFile, type ValidationFailure } from '@stowage/core'

/** Limits on one request. */
export interface UploadLimits {
  /** Most file parts. Default: the number of file fields declared. */
  files?: number
  /** Most non-file fields. Default 100. */
  fields?: number
  /** Most parts of any kind. Default `files + fields`. */
  parts?: number
  /** Longest non-file field value in bytes. Default 64 KiB. */
  fieldSize?: number
  /** Most bytes in the whole request body. Default 10 MiB. */
  totalSize?: number
}

/** What the client said about one file part. */
export interface FilePartInfo {
  /** The form field name. */
  field: string
  filename: string
  mimeType: string
}

/** Where a file part goes: a bound field, or a function choosing one from the part. */
export type UploadTarget = FieldFile<any> | ((info: FilePartInfo) => FieldFile<any> | Promise<FieldFile<any>>)

/** Options for `receiveUpload`. */
export interface ReceiveUploadOptions {
  /** Form field name → target. A file under any other name refuses the request. */
  files: Record<string, UploadTarget>
  limits?: UploadLimits
  /** Cancels the upload; files already stored are removed. */
  signal?: AbortSignal
}

/** One stored file. */
export interface ReceivedFile {
  /** The name stored (also written into the record). */
  name: string
  /** The file name the client sent. */
  filename: string
  size: number
  /** The content type detected from the bytes, when recognised. */
  type?: string
  width?: number
  height?: number
}

/** The outcome of `receiveUpload`. */
export interface UploadResult {
  /** Non-file fields; a repeated name keeps its last value. */
  fields: Record<string, string>
  /** Stored files by form field name. */
  files: Record<string, ReceivedFile>
}

/** Default cap on the whole request body. */
export const DEFAULT_TOTAL_SIZE = 10 * 1024 * 1024
/** Default cap on a non-file field value. */
export const DEFAULT_FIELD_SIZE = 64 * 1024
/** Default cap on the number of non-file fields (Django's is 1000; forms with uploads rarely need more than a few). */
export const DEFAULT_MAX_FIELDS = 100

const SIZE_RULES = new Set(['maxSize', 'totalSize'])

const refusal = (rule: string, message: string, params?: Record<string, unknown>) => new ValidationError([{ rule, message, ...(params && { params }) }])

interface Saved {
  field: string
  file: FieldFile<any>
  previous: string | null
  restore: () => void
  result: ReceivedFile
}

/** @returns whether `type` is `multipart/form-data` with its boundary, read by Node's MIME parser. Never throws. */
function isMultipartForm(type: string): boolean {
  try {
    const mime = new MIMEType(type)
    return mime.essence === 'multipart/form-data' && !!mime.params.get('boundary')
  } catch {
    return false
  }
}

/**
 * Parses `req` (a `node:http` request; Express and Fastify's `request.raw`
 * are ones) and saves its files into the targets.
 * @returns the text fields and the stored files.
 * @throws ValidationError (rules `multipart`, `unexpectedFile`, `duplicateFile` (a second file for one form
 *   field or one record column), `filename` (bytes under a name that is no file name, e.g. `..`), `maxFiles`, `maxFields`, `maxParts`,
 *   `fieldSize`, `totalSize`, plus each field's own validator rules, each failure's `params.field`
 *   naming the form field; `context.fields` holds the text fields received). Type and dimension
 *   refusals are collected across all files; size and protocol refusals stop the request at once.
 *   AbortedError; StorageError from a backend. Nothing is left stored.
 */
export function receiveUpload(req: IncomingMessage, options: ReceiveUploadOptions): Promise<UploadResult> {
  const limits = {
    files: Object.keys(options.files).length,
    fields: DEFAULT_MAX_FIELDS,
    fieldSize: DEFAULT_FIELD_SIZE,
    totalSize: DEFAULT_TOTAL_SIZE,
    ...options.limits,
  }
  const parts = limits.parts ?? limits.files + limits.fields
  const type = req.headers['content-type'] ?? ''
  if (!isMultipartForm(type)) {
    return Promise.reject(refusal('multipart', 'Expected a multipart/form-data request', { contentType: type }))
  }
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limits.totalSize) {
    return Promise.reject(refusal('totalSize', `Request body is larger than the limit of ${limits.totalSize} bytes`, { limit: limits.totalSize, declared }))
  }

  return new Promise<UploadResult>((resolve, reject) => {
    const fields: Record<string, string> = {}
    const saves: Promise<Saved>[] = []
    // Parts that carried bytes under no usable file name: refused once drained.
    const nameless: Promise<void>[] = []
    const open = new Set<Readable>()
    // One file per form field and per record column: a second one would be
    // stored too, replace the first in the record and leave it orphaned (and
    // a rollback would restore a snapshot naming the first, deleted file).
    const filled = new Set<string>()
    const columns = new Map<object, Set<string>>()
    let failure: unknown
    let finishing: Promise<void> | undefined
    let parser: busboy.Busboy
    try {
      // Browsers send UTF-8 file names; busboy's default (latin1) would turn 'naïve.txt' into 'naÃ¯ve.txt'.
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { files: limits.files, fields: limits.fields, parts, fieldSize: limits.fieldSize },
      })
    } catch (err) {
      reject(refusal('multipart', `Malformed multipart request: ${err instanceof Error ? err.message : String(err)}`))
      return
    }
    let received = 0
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length
        if (received > limits.totalSize) {
          return done(refusal('totalSize', `Request body is larger than the limit of ${limits.totalSize} bytes`, { limit: limits.totalSize }))
        }
        done(null, chunk)
      },
    })

    const fail = (err: unknown) => {
      if (failure !== undefined) return
      failure = err
      // Stop reading the request; the caller's response should close the connection.
      req.unpipe(counter)
      counter.unpipe(parser)
      for (const s of open) s.destroy(err instanceof Error ? err : new Error(String(err)))
      finishing ??= finish()
    }

    const finish = async () => {
      const settled = await Promise.allSettled(saves)
      const refused = await Promise.allSettled(nameless)
      const done = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
      if (failure === undefined) {
        const errors = [...settled, ...refused].flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []))
        if (errors.length) failure = mergeErrors(errors)
      }
      if (failure !== undefined) {
        await rollback(done)
        // The text fields received, so a form can be shown again with its values.
        if (failure instanceof ValidationError) Object.assign(failure.context, { fields })
        return reject(failure)
      }
      // Only now that everything is in: retire the files these replaced, where the field asks for it.
      // A failed delete is reported as a warning by retire(); the form's files are stored either way.
      for (const s of done) await s.file.retire(s.previous)
      resolve({ fields, files: Object.fromEntries(done.map((s) => [s.field, s.result])) })
    }

    const onAbort = () => fail(new AbortedError('Upload aborted', { cause: options.signal?.reason }))
    if (options.signal?.aborted) return onAbort()
    options.signal?.addEventListener('abort', onAbort, { once: true })

    parser.on('file', (field, stream, info) => {
      if (failure !== undefined) return stream.resume()
      const target = options.files[field]
      if (!Object.hasOwn(options.files, field) || !target) {
        stream.resume()
        return fail(refusal('unexpectedFile', `Unexpected file field '${field}'`, { field }))
      }
      const filename = info.filename ?? ''
      // A browser sends an empty, nameless part for a file input left blank:
      // nothing to store. busboy also reduces '..', '.' and 'dir/' to '': such
      // a part with bytes is no blank input, and taking it with a 201 while
      // storing nothing would lose the file silently.
      if (filename === '') {
        const blank = new Promise<void>((resolve, reject) => {
          let bytes = 0
          stream.on('data', (chunk: Buffer) => (bytes += chunk.length))
          stream.on('error', reject)
          stream.on('end', () => (bytes === 0 ? resolve() : reject(refusal('filename', `The file of field '${field}' has no usable file name`, { field }))))
        })
        blank.catch(() => {}) // settled in finish()
        nameless.push(blank)
        return
      }
      if (filled.has(field)) {
        stream.resume()
        return fail(refusal('duplicateFile', `More than one file for field '${field}'`, { field }))
      }
      filled.add(field)
      // The save reads from a PassThrough, not from busboy's own stream: a
      // refused save destroys its source, and a destroyed busboy stream would
      // stall the whole form. This way the rest of the part can be drained.
      const body = new PassThrough()
      // busboy destroys its stream with an error on a truncated body: the save must fail with it.
      stream.on('error', (err) => body.destroy(err))
      stream.pipe(body)
      open.add(body)
      const save = (async (): Promise<Saved> => {
        try {
          const file = typeof target === 'function' ? await target({ field, filename, mimeType: info.mimeType }) : target
          const used = columns.get(file.record) ?? new Set<string>()
          if (used.has(file.column))
            throw refusal('duplicateFile', `Field '${field}' writes the '${file.column}' column another file of this form writes`, { field })
          columns.set(file.record, used.add(file.column))
          const previous = file.name
          const restore = file.snapshot()
          const name = await file.save(filename, body, { contentType: info.mimeType, deleteOld: false, ...(options.signal && { signal: options.signal }) })
          const f = file.facts
          return {
            field,
            file,
            previous,
            restore,
            result: {
              name,
              filename,
              size: f?.size ?? 0,
              ...(f?.type && { type: f.type.mime }),
              ...(f?.width !== undefined && { width: f.width, height: f.height }),
            },
          }
        } catch (err) {
          stream.unpipe(body)
          stream.resume()
          const tagged = withField(err, field)
          // A type or dimension refusal is decided on the first bytes: drain
          // the rest (bounded by totalSize) and go on, so the client hears
          // about every field at once. Anything else stops the request now:
          // an oversized file is cut off, a backend failure is not retried.
          if (!(tagged instanceof ValidationError) || tagged.failures.some((f) => SIZE_RULES.has(f.rule))) fail(tagged)
          throw tagged
        } finally {
          open.delete(body)
        }
      })()
      save.catch(() => {}) // settled in finish()
      saves.push(save)
    })
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated)
        return fail(refusal('fieldSize', `Field '${name}' is longer than ${limits.fieldSize} bytes`, { field: name, limit: limits.fieldSize }))
      fields[name] = value
    })
    parser.on('filesLimit', () => fail(refusal('maxFiles', `More than ${limits.files} files`, { limit: limits.files })))
    parser.on('fieldsLimit', () => fail(refusal('maxFields', `More than ${limits.fields} fields`, { limit: limits.fields })))
    parser.on('partsLimit', () => fail(refusal('maxParts', `More than ${parts} parts`, { limit: parts })))
    parser.on('error', (err: Error) => fail(refusal('multipart', `Malformed or truncated multipart request: ${err.message}`)))
    parser.on('close', () => {
      options.signal?.removeEventListener('abort', onAbort)
      finishing ??= finish()
    })
    counter.on('error', fail)
    req.on('error', (err) => fail(refusal('multipart', `Request failed: ${err.message}`)))
    req.on('aborted', () => fail(refusal('multipart', 'The client aborted the request')))
    req.pipe(counter).pipe(parser)
  })
}

function withField(err: unknown, field: string): unknown {
  if (!(err instanceof ValidationError)) return err
  return new ValidationError(
    err.failures.map((f) => ({ ...f, params: { ...f.params, field } })),
    { cause: err, context: err.context },
  )
}

function mergeErrors(errors: unknown[]): unknown {
  const validation = errors.filter((e): e is ValidationError => e instanceof ValidationError)
  if (validation.length !== errors.length) return errors.find((e) => !(e instanceof ValidationError))
  const failures: ValidationFailure[] = validation.flatMap((e) => e.failures)
  return new ValidationError(failures, { cause: validation[0] })
}

async function rollback(saved: Saved[]): Promise<void> {
  for (const s of saved) {
    await s.file.deleteStored(s.result.name).catch(() => {})
    s.restore()
  }
}
