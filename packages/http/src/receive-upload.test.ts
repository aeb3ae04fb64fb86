import { randomUUID } from 'node:crypto'
import { request, type IncomingMessage, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AbortedError,
  allowedTypes,
  fileField,
  hostileUploads,
  imageField,
  maxSize,
  MemoryStorage,
  sampleGif,
  samplePng,
  StorageError,
  ValidationError,
} from '@stowage/core'
import { sendError } from './http-errors.js'
import { receiveUpload, type ReceiveUploadOptions, type UploadResult } from './receive-upload.js'
// Runs on every backend in test-support/backends.ts, S3 (@stowage/s3) included.
import { backends, multipart, serve, type TestBackend } from './test-support/backends.js'

const MB = 1024 * 1024

describe.each(Object.keys(backends))('receiveUpload on %s', (backendName) => {
  let backend: TestBackend
  let server: Awaited<ReturnType<typeof serve>>
  // One receiving end per test, at a path of its own: no test sees another's options, record or outcome.
  const receivers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>()

  const avatarField = () =>
    imageField({ storage: backend.storage, uploadTo: 'avatars/', validators: [maxSize(1 * MB), allowedTypes(['image/png', 'image/jpeg', 'image/gif'])] })

  beforeAll(async () => {
    backend = await backends[backendName]!()
    server = await serve((req, res) => {
      const receive = receivers.get(req.url ?? '')
      if (receive) receive(req, res)
      else res.writeHead(404).end()
    })
  })
  afterAll(async () => {
    await server?.close()
    await backend?.destroy()
  })

  /**
   * A receiving end for one test: `receiveUpload` with `options` for `record`.
   * @returns its URL, `post()`, the server-side `outcome` (the result or the
   *   error), when a request `arrived`, and the bytes read from its socket.
   */
  function receiver(options: (record: Record<string, unknown>) => ReceiveUploadOptions, record: Record<string, unknown> = {}) {
    const path = `/upload/${randomUUID()}`
    let arrive!: () => void
    let settle!: (outcome: UploadResult | unknown) => void
    const state = {
      url: `${server.url}${path}`,
      record,
      bytesRead: 0,
      arrived: new Promise<void>((resolve) => (arrive = resolve)),
      outcome: new Promise<UploadResult | unknown>((resolve) => (settle = resolve)),
      async post(body: Buffer, contentType: string) {
        const res = await fetch(state.url, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': contentType } })
        return { status: res.status, json: (await res.json()) as Record<string, any> }
      },
    }
    receivers.set(path, (req, res) => {
      const p = receiveUpload(req, options(record))
      arrive()
      p.then(
        (r) => {
          res.writeHead(201, { 'content-type': 'application/json' })
          res.end(JSON.stringify(r))
        },
        (err: unknown) => sendError(res, err),
      )
      void p
        .then(
          (r) => r,
          (e: unknown) => e,
        )
        .then((outcome) => {
          state.bytesRead = req.socket.bytesRead
          settle(outcome)
        })
    })
    return state
  }

  it('streams a valid image into the field and writes the stored name into the record', async () => {
    const field = avatarField()
    const up = receiver((r) => ({ files: { avatar: field.bind(r, 'avatar') } }), { id: 1, avatar: null })
    const png = samplePng(16, 9)
    const { body, contentType } = multipart([
      { name: 'title', data: 'Me' },
      { name: 'avatar', filename: 'me.png', type: 'image/png', data: png },
    ])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(201)
    expect(json).toEqual({
      fields: { title: 'Me' },
      files: { avatar: { name: 'avatars/me.png', filename: 'me.png', size: png.length, type: 'image/png', width: 16, height: 9 } },
    })
    expect(up.record.avatar).toBe('avatars/me.png')
    expect(Buffer.from(await backend.storage.read('avatars/me.png')).equals(png)).toBe(true)
    await backend.storage.delete('avatars/me.png')
  })

  it('an aborted request fails with AbortedError (EABORTED) and stores nothing', async () => {
    const field = avatarField()
    const reason = new Error('client went away')
    const up = receiver((r) => ({ files: { avatar: field.bind(r, 'avatar') }, signal: AbortSignal.abort(reason) }), { id: 1, avatar: null })
    const { body, contentType } = multipart([{ name: 'avatar', filename: 'gone.png', type: 'image/png', data: samplePng(2, 2) }])
    await up.post(body, contentType).catch(() => undefined)
    const err = await up.outcome
    expect(err).toBeInstanceOf(AbortedError)
    expect(err).toMatchObject({ code: 'EABORTED', cause: reason })
    expect(up.record.avatar).toBeNull()
    expect(await backend.storage.exists('avatars/gone.png')).toBe(false)
  })

  it('keeps a UTF-8 file name as the browser sent it (busboy reads latin1 by default)', async () => {
    const field = avatarField()
    const up = receiver((r) => ({ files: { avatar: field.bind(r, 'avatar') } }), { id: 1, avatar: null })
    const { body, contentType } = multipart([{ name: 'avatar', filename: 'naïve é.png', type: 'image/png', data: samplePng(2, 2) }])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(201)
    expect(json.files.avatar).toMatchObject({ name: 'avatars/naïve_é.png', filename: 'naïve é.png' })
    await backend.storage.delete('avatars/naïve_é.png')
  })

  // The status each hostile upload gets and the rules that refuse it: 415 for a type, 400 for an image that cannot be used.
  const hostileRefusals: Record<string, [status: number, rules: string[]]> = {
    'HTML renamed .png': [415, ['allowedTypes', 'imageDimensions']],
    'HTML declared as octet-stream with no extension': [415, ['allowedTypes', 'imageDimensions']],
    'SVG with script, named .svg': [415, ['allowedTypes', 'imageDimensions']],
    'SVG with script renamed .png': [415, ['allowedTypes', 'imageDimensions']],
    'PNG/HTML polyglot (script in a tEXt chunk)': [415, ['allowedTypes']],
    'GIF/HTML polyglot': [415, ['allowedTypes']],
    'PNG declared as JPEG': [415, ['allowedTypes']],
    'decompression bomb: PNG claiming 100000 × 100000 pixels': [400, ['imageDimensions']],
    'PNG header cut short': [400, ['imageDimensions']],
    'empty file named .png': [415, ['allowedTypes', 'imageDimensions']],
  }

  it.each(hostileUploads().map((h) => [h.title, h] as const))('refuses %s with nothing stored', async (title, h) => {
    const field = avatarField()
    const up = receiver((r) => ({ files: { avatar: field.bind(r, 'avatar') } }), { id: 1, avatar: null })
    const { body, contentType } = multipart([{ name: 'avatar', filename: h.filename, type: h.contentType, data: h.bytes }])
    const { status, json } = await up.post(body, contentType)
    const [expectedStatus, rules] = hostileRefusals[title]!
    expect(status).toBe(expectedStatus)
    expect(json.error).toBe('EVALIDATION')
    expect([...new Set(json.failures.map((f: { rule: string }) => f.rule))]).toEqual(rules)
    expect(json.failures.every((f: { params: { field: string } }) => f.params.field === 'avatar')).toBe(true)
    expect(up.record.avatar).toBeNull()
    expect(await backend.everything()).toEqual([])
  })

  it('refuses a 40-byte GIF bomb whose first frame outgrows its 1 × 1 screen (decoders size it 65535 × 65535)', async () => {
    const field = avatarField()
    const up = receiver((r) => ({ files: { avatar: field.bind(r, 'avatar') } }), { id: 1, avatar: null })
    const frame = Buffer.alloc(10)
    frame[0] = 0x2c // image descriptor at 0,0, 65535 × 65535
    frame.writeUInt16LE(65_535, 5)
    frame.writeUInt16LE(65_535, 7)
    const bomb = Buffer.concat([sampleGif(1, 1).subarray(0, 13), frame, Buffer.from([2, 1, 0x2c, 0, 0x3b])])
    const { body, contentType } = multipart([{ name: 'avatar', filename: 'tiny.gif', type: 'image/gif', data: bomb }])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(400)
    expect(json.failures).toMatchObject([{ rule: 'imageDimensions', params: { reason: 'maxPixels', width: 65_535, height: 65_535, field: 'avatar' } }])
    expect(up.record.avatar).toBeNull()
    expect(await backend.everything()).toEqual([])
  })

  it('cuts an oversized file stream off at the limit, reading only a little past it', async () => {
    const field = fileField({ storage: backend.storage, validators: [maxSize(1 * MB)] })
    const up = receiver((r) => ({ files: { doc: field.bind(r, 'doc') }, limits: { totalSize: 1024 * MB } }))
    const boundary = 'xyz'
    const total = 64 * MB
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(up.url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } })
      let sent = 0
      let answered = false
      req.on('response', (res) => {
        answered = true
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', (err) => (answered ? undefined : reject(err)))
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="doc"; filename="big.bin"\r\n\r\n`)
      const chunk = Buffer.alloc(64 * 1024, 0x61)
      const pump = () => {
        while (!answered && sent < total) {
          sent += chunk.length
          if (!req.write(chunk)) return void req.once('drain', pump)
        }
        if (!answered) req.end(`\r\n--${boundary}--\r\n`)
      }
      pump()
    })
    expect(status).toBe(413)
    const err = await up.outcome
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).failures[0]).toMatchObject({ rule: 'maxSize', params: { field: 'doc' } })
    expect(up.bytesRead).toBeLessThan(16 * MB) // the limit plus socket buffers, never the 64 MB
    expect(up.record.doc).toBeUndefined()
    expect(await backend.everything()).toEqual([])
  })

  it('leaves nothing when the client drops a truncated stream mid-file', async () => {
    const field = fileField({ storage: backend.storage })
    const up = receiver((r) => ({ files: { doc: field.bind(r, 'doc') } }))
    const req = request(up.url, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=b' } })
    req.on('error', () => {})
    req.write(`--b\r\nContent-Disposition: form-data; name="doc"; filename="half.txt"\r\n\r\n${'x'.repeat(100_000)}`)
    await up.arrived
    req.destroy()
    const err = await up.outcome
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).failures[0]!.rule).toBe('multipart')
    expect(up.record.doc).toBeUndefined()
    expect(await backend.everything()).toEqual([])
  })

  it('refuses a body that ends before the closing boundary', async () => {
    const field = fileField({ storage: backend.storage })
    const up = receiver((r) => ({ files: { doc: field.bind(r, 'doc') } }))
    const { body, contentType } = multipart([{ name: 'doc', filename: 'a.txt', data: 'hello world' }])
    const { status, json } = await up.post(body.subarray(0, body.length - 20), contentType)
    expect(status).toBe(400)
    expect(json.failures[0].rule).toBe('multipart')
    expect(await backend.everything()).toEqual([])
  })

  it('rolls back files already stored when a later file is refused, restoring the record', async () => {
    const ok = fileField({ storage: backend.storage })
    const strict = fileField({ storage: backend.storage, validators: [allowedTypes(['image/png'])] })
    const up = receiver((r) => ({ files: { a: ok.bind(r, 'a'), b: strict.bind(r, 'b') } }), { a: 'old-a.txt', b: null })
    const { body, contentType } = multipart([
      { name: 'a', filename: 'a.txt', data: 'fine' },
      { name: 'b', filename: 'b.png', type: 'image/png', data: '<html><script>1</script></html>' },
    ])
    const { status } = await up.post(body, contentType)
    expect(status).toBe(415)
    expect(up.record).toEqual({ a: 'old-a.txt', b: null })
    expect(await backend.everything()).toEqual([])
  })

  it.each([
    ['an unexpected file field', [{ name: 'other', filename: 'x.txt', data: 'x' }], {}, 'unexpectedFile', 400],
    [
      'too many files',
      [
        { name: 'doc', filename: 'x.txt', data: 'x' },
        { name: 'doc', filename: 'y.txt', data: 'y' },
      ],
      { files: 1 },
      'maxFiles',
      400,
    ],
    [
      'too many fields',
      [
        { name: 'a', data: '1' },
        { name: 'b', data: '2' },
        { name: 'c', data: '3' },
      ],
      { fields: 2 },
      'maxFields',
      400,
    ],
    ['an oversized text field', [{ name: 'a', data: 'x'.repeat(100) }], { fieldSize: 10 }, 'fieldSize', 413],
    ['a request over the total size', [{ name: 'doc', filename: 'x.txt', data: 'x'.repeat(5000) }], { totalSize: 1000 }, 'totalSize', 413],
  ] as const)('refuses %s', async (_t, parts, limits, rule, expected) => {
    const field = fileField({ storage: backend.storage })
    const up = receiver((r) => ({ files: { doc: field.bind(r, 'doc') }, limits }))
    const { body, contentType } = multipart([...parts])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(expected)
    expect(json.failures.map((f: { rule: string }) => f.rule)).toContain(rule)
    expect(await backend.everything()).toEqual([])
  })

  // Both used to be stored: the record named the last, the first was an orphan nobody could delete.
  it('refuses two files for one form field, storing neither and keeping the record', async () => {
    const field = fileField({ storage: backend.storage, uploadTo: 'docs/' })
    const up = receiver((r) => ({ files: { doc: field.bind(r, 'doc'), other: field.bind(r, 'other') } }), { doc: 'old.txt' })
    const { body, contentType } = multipart([
      { name: 'doc', filename: 'one.txt', data: 'one' },
      { name: 'doc', filename: 'two.txt', data: 'two' },
    ])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(400)
    expect(json.failures).toMatchObject([{ rule: 'duplicateFile', params: { field: 'doc' } }])
    expect(up.record).toEqual({ doc: 'old.txt' })
    expect(await backend.everything()).toEqual([])
  })

  it('refuses two form fields whose files would land in one record column', async () => {
    const field = fileField({ storage: backend.storage, uploadTo: 'docs/' })
    const up = receiver((r) => ({ files: { doc: field.bind(r, 'doc'), alias: () => field.bind(r, 'doc') } }), { doc: 'old.txt' })
    const { body, contentType } = multipart([
      { name: 'doc', filename: 'one.txt', data: 'one' },
      { name: 'alias', filename: 'two.txt', data: 'two' },
    ])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(400)
    expect(json.failures).toMatchObject([{ rule: 'duplicateFile', params: { field: 'alias' } }])
    expect(up.record).toEqual({ doc: 'old.txt' })
    expect(await backend.everything()).toEqual([])
  })

  it('reports type refusals of every file at once, with the text fields for re-rendering the form', async () => {
    const strict = fileField({ storage: backend.storage, validators: [allowedTypes(['image/png'])] })
    const up = receiver((r) => ({ files: { a: strict.bind(r, 'a'), b: strict.bind(r, 'b'), c: strict.bind(r, 'c') } }))
    const { body, contentType } = multipart([
      { name: 'a', filename: 'a.png', type: 'image/png', data: '<html>a</html>' },
      { name: 'title', data: 'Hello' },
      { name: 'b', filename: 'b.png', type: 'image/png', data: samplePng(1, 1) },
      { name: 'c', filename: 'c.png', type: 'image/png', data: Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(10_000)]) },
    ])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(415)
    expect([...new Set(json.failures.map((f: { params: { field: string } }) => f.params.field))]).toEqual(['a', 'c'])
    const err = await up.outcome
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).context.fields).toEqual({ title: 'Hello' })
    expect(up.record).toEqual({})
    expect(await backend.everything()).toEqual([])
  })

  it('ignores the empty part a browser sends for a file input left blank', async () => {
    const field = fileField({ storage: backend.storage })
    const up = receiver((r) => ({ files: { doc: field.bind(r, 'doc') } }), { doc: 'kept.txt' })
    const { body, contentType } = multipart([
      { name: 'doc', filename: '', type: 'application/octet-stream', data: '' },
      { name: 'a', data: '1' },
    ])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(201)
    expect(json).toEqual({ fields: { a: '1' }, files: {} })
    expect(up.record.doc).toBe('kept.txt')
  })

  // busboy reduces these names to '', the name of a file input left blank; the bytes say otherwise.
  it.each(['..', '.', 'dir/', 'C:\\dir\\..'])('refuses a file named %j instead of dropping it with a success', async (filename) => {
    const field = fileField({ storage: backend.storage })
    const up = receiver((r) => ({ files: { doc: field.bind(r, 'doc'), other: field.bind(r, 'other') } }), { doc: 'kept.txt' })
    const { body, contentType } = multipart([
      { name: 'other', filename: 'fine.txt', data: 'fine' },
      { name: 'doc', filename, data: 'the bytes of a real file' },
    ])
    const { status, json } = await up.post(body, contentType)
    expect(status).toBe(400)
    expect(json.failures).toMatchObject([{ rule: 'filename', params: { field: 'doc' } }])
    expect(up.record).toEqual({ doc: 'kept.txt' })
    expect(await backend.everything()).toEqual([])
  })

  it('refuses a request that is not multipart', async () => {
    const up = receiver(() => ({ files: {} }))
    const { status, json } = await up.post(Buffer.from('{}'), 'application/json')
    expect(status).toBe(400)
    expect(json.failures[0].rule).toBe('multipart')
  })

  it.each([
    'multipart/form-data; charset=utf-8',
    'multipart/form-data',
    'multipart/form-data; boundary=',
    'multipart/mixed; boundary=x',
    'multipart/form-data/x; boundary=x',
  ])('refuses %j: a form needs its boundary (read by a MIME parser)', async (type) => {
    const up = receiver(() => ({ files: {} }))
    const { status, json } = await up.post(Buffer.from('--x--\r\n'), type)
    expect(status).toBe(400)
    expect(json.failures[0].rule).toBe('multipart')
  })
})

describe('receiveUpload when a replaced file cannot be deleted', () => {
  // The form's files are stored and the record names them; the failure was
  // swallowed without a word. It is now a warning naming the file left behind.
  it('answers with the stored file and emits a StowageWarning naming the old one', async () => {
    class UndeletableStorage extends MemoryStorage {
      override async delete(name: string): Promise<void> {
        throw new StorageError(`delete of ${name} refused by the backend`)
      }
    }
    const storage = new UndeletableStorage()
    await storage.save('docs/old.txt', 'old')
    const record: Record<string, unknown> = { doc: 'docs/old.txt' }
    const field = fileField({ storage, uploadTo: 'docs/', deleteOnReplace: true })
    const server = await serve((req, res) => {
      receiveUpload(req, { files: { doc: field.bind(record, 'doc') } }).then(
        (r) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(r)),
        (err: unknown) => sendError(res, err),
      )
    })
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      const { body, contentType } = multipart([{ name: 'doc', filename: 'new.txt', type: 'text/plain', data: 'new' }])
      const res = await fetch(server.url, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': contentType } })
      expect(res.status).toBe(201)
      expect(record.doc).toBe('docs/new.txt')
      expect(storage.names().sort()).toEqual(['docs/new.txt', 'docs/old.txt'])
      await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
      expect(warnings.map((w) => [w.name, (w as Error & { code?: string }).code])).toEqual([['StowageWarning', 'STOWAGE_REPLACED_NOT_DELETED']])
      expect(warnings[0]!.message).toContain("'docs/old.txt'")
    } finally {
      process.off('warning', onWarning)
      await server.close()
    }
  })
})
