/**
 * An upload handler in the shape the README's media snippet had before the
 * doc tests ran it as written (test/docs): Express 5 + better-sqlite3 +
 * FileSystemStorage, driven by a real browser-style FormData client. Kept for
 * what it checks beyond the snippet (refusals leave nothing, bombs, limits).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowedTypes, imageField, maxSize, samplePng } from '@stowage/core'
import { listAll } from '@stowage/core/testing'
import { FileSystemStorage } from '@stowage/local'
import { receiveUpload, serveMedia, uploadErrorHandler } from './index.js'

type User = { id: number; avatar: string | null }

describe('README upload handler (Express)', () => {
  let dir: string
  let server: Server
  let base: string
  let db: Database.Database
  let media: FileSystemStorage

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stowage-readme-'))
    db = new Database(':memory:')
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, avatar VARCHAR(100))')
    db.prepare('INSERT INTO users (id) VALUES (1)').run()

    // ---- handler starts ----
    media = new FileSystemStorage({ location: dir, baseUrl: '/media/' })
    const avatar = imageField<User>({
      storage: media,
      uploadTo: 'avatars/%Y/%m/',
      validators: [maxSize(2_000_000), allowedTypes(['image/png', 'image/jpeg', 'image/webp'])],
      dimensions: { maxWidth: 4096, maxHeight: 4096 },
      deleteOnReplace: true,
    })

    const app = express()
    app.post('/users/:id/avatar', async (req, res) => {
      const user = db.prepare('SELECT * FROM users WHERE id = ?').get(req.params.id) as User | undefined
      if (!user) return void res.sendStatus(404)
      const { files } = await receiveUpload(req, { files: { avatar: avatar.bind(user, 'avatar') }, limits: { files: 1, totalSize: 3_000_000 } })
      db.prepare('UPDATE users SET avatar = ? WHERE id = ?').run(user.avatar, user.id)
      res.status(201).json({ ...files.avatar, url: await media.url(user.avatar!) })
    })
    app.use('/media', serveMedia({ storage: media }))
    app.use(uploadErrorHandler())
    // ---- handler ends ----

    server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  const upload = (bytes: Buffer, filename: string, type: string) => {
    const form = new FormData()
    form.append('avatar', new Blob([new Uint8Array(bytes)], { type }), filename)
    return fetch(`${base}/users/1/avatar`, { method: 'POST', body: form })
  }
  const stored = () => (db.prepare('SELECT avatar FROM users WHERE id = 1').get() as { avatar: string | null }).avatar
  /** Uploads a valid avatar. @returns the row's avatar and every stored file (just that one, under avatars/YYYY/MM/). */
  const withAvatar = async () => {
    expect((await upload(samplePng(8, 8), 'me.png', 'image/png')).status).toBe(201)
    const state = { row: stored(), files: await listAll(media) }
    expect(state.files).toEqual([state.row])
    return state
  }

  it('stores an upload, records it in the database, serves it back, and replaces it', async () => {
    const png = samplePng(32, 32)
    const res = await upload(png, 'me.png', 'image/png')
    expect(res.status).toBe(201)
    const body = (await res.json()) as { name: string; url: string; width: number }
    expect(body).toMatchObject({ width: 32, height: 32, type: 'image/png' })
    expect(stored()).toBe(body.name)
    const served = await fetch(base + body.url)
    expect(served.headers.get('content-type')).toBe('image/png')
    expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true)

    const again = (await (await upload(samplePng(8, 8), 'me.png', 'image/png')).json()) as { name: string }
    expect(again.name).not.toBe(body.name)
    expect(await media.exists(body.name)).toBe(false) // deleteOnReplace
    expect(stored()).toBe(again.name)
  })

  it('refuses HTML posing as a PNG and keeps the database row and the stored files as they were', async () => {
    const before = await withAvatar()
    const res = await upload(Buffer.from('<html><script>alert(1)</script></html>'), 'evil.png', 'image/png')
    expect(res.status).toBe(415)
    expect(((await res.json()) as { error: string }).error).toBe('EVALIDATION')
    expect({ row: stored(), files: await listAll(media) }).toEqual(before)
  })

  it('refuses a decompression bomb and keeps the database row and the stored files as they were', async () => {
    const before = await withAvatar()
    const res = await upload(samplePng(50_000, 50_000, { pixels: false }), 'bomb.png', 'image/png')
    expect(res.status).toBe(400)
    expect(((await res.json()) as { failures: { rule: string }[] }).failures.map((f) => f.rule)).toContain('imageDimensions')
    expect({ row: stored(), files: await listAll(media) }).toEqual(before)
  })
})
