import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowedTypes, fileField, MemoryStorage, samplePng } from '@stowage/core'
import { stowageFastify } from './fastify.js'
import { receiveUpload } from './receive-upload.js'
import { serveMedia } from './serve-media.js'

describe('Fastify adapter', () => {
  const storage = new MemoryStorage({ baseUrl: '/media/' })
  const field = fileField({ storage, uploadTo: 'docs/', validators: [allowedTypes(['image/png'])] })
  const app = Fastify()
  const records: Record<string, unknown>[] = []
  let base = ''

  beforeAll(async () => {
    stowageFastify(app)
    app.post('/upload', async (request, reply) => {
      const record: Record<string, unknown> = {}
      records.push(record)
      const result = await receiveUpload(request.raw, { files: { doc: field.bind(record, 'doc') } })
      return reply.code(201).send(result)
    })
    const media = serveMedia({ storage, prefix: '/media/' })
    app.get('/media/*', (request, reply) => {
      reply.hijack() // the handler writes the raw response itself
      media(request.raw, reply.raw)
    })
    base = await app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(() => app.close())

  const post = (bytes: Buffer, filename: string) => {
    const form = new FormData()
    form.append('note', 'hi')
    form.append('doc', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), filename)
    return fetch(`${base}/upload`, { method: 'POST', body: form })
  }

  it('streams a multipart body into the field and serves it back', async () => {
    const png = samplePng(3, 3)
    const res = await post(png, 'a.png')
    expect(res.status).toBe(201)
    const body = (await res.json()) as { fields: Record<string, string>; files: { doc: { name: string } } }
    expect(body.fields).toEqual({ note: 'hi' })
    expect(records.at(-1)).toEqual({ doc: 'docs/a.png' })
    const served = await fetch(`${base}/media/docs/a.png`)
    expect(served.headers.get('x-content-type-options')).toBe('nosniff')
    expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true)
  })

  it('maps a refusal to a JSON 415 and stores nothing', async () => {
    const before = storage.names()
    const res = await post(Buffer.from('<html><script>1</script></html>'), 'b.png')
    expect(res.status).toBe(415)
    expect(((await res.json()) as { error: string }).error).toBe('EVALIDATION')
    expect(storage.names()).toEqual(before)
  })
})
