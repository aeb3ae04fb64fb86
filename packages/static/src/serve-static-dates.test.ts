/**
 * `If-Modified-Since` and `If-Range` through serveStatic: a value that is not
 * an HTTP-date (RFC 9110 §5.6.7) is ignored, as if the header were absent.
 * `Date.parse` read `9999` as a year to come (a 304) and an ISO string of
 * Last-Modified as Last-Modified itself (a range of a file the client may
 * hold another version of).
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import { collectstatic } from './collectstatic.js'
import { createFinders } from './finders.js'
import { ManifestStaticStorage } from './manifest-static-storage.js'
import { serveStatic } from './serve-static.js'
import { ASSET_TREE_DIRS, writeAssetTree } from './testing/asset-tree.js'

const servers: Server[] = []
let root: string

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'stowage-serve-dates-'))
  await writeAssetTree(root)
})
afterAll(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    s.close()
  }
  await rm(root, { recursive: true, force: true })
})

describe.each(['dev', 'prod'] as const)('serveStatic and dates that are not HTTP-dates (%s)', (mode) => {
  let url: string
  let whole: Buffer
  let lastModified: string

  beforeAll(async () => {
    const finders = createFinders({ root, dirs: ASSET_TREE_DIRS })
    const storage = mode === 'prod' ? new ManifestStaticStorage({ storage: new MemoryStorage({ baseUrl: '/static/' }) }) : undefined
    if (storage) await collectstatic({ storage, finders })
    const mw = storage ? serveStatic({ storage }) : serveStatic({ finders })
    const server = createServer((req, res) => void mw(req, res))
    servers.push(server)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    url = `${base}${storage ? await storage.url('img/hero bg.jpg') : '/static/img/hero%20bg.jpg'}`
    const res = await fetch(url)
    lastModified = res.headers.get('last-modified')!
    whole = Buffer.from(await res.arrayBuffer())
    expect(whole.length).toBeGreaterThan(10)
  })

  it.each(['0', '9999', 'iso'])('If-Modified-Since: %s gets a 200 with the body', async (value) => {
    const since = value === 'iso' ? new Date(lastModified).toISOString() : value
    const res = await fetch(url, { headers: { 'if-modified-since': since } })
    expect(res.status).toBe(200)
    expect(Buffer.from(await res.arrayBuffer()).equals(whole)).toBe(true)
  })

  it('a Range under an If-Range that is not an HTTP-date gets the whole file; under Last-Modified, the range', async () => {
    const iso = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': new Date(lastModified).toISOString() } })
    expect(iso.status).toBe(200)
    expect(Buffer.from(await iso.arrayBuffer()).equals(whole)).toBe(true)
    const current = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': lastModified } })
    expect(current.status).toBe(206)
    expect(Buffer.from(await current.arrayBuffer()).equals(whole.subarray(0, 10))).toBe(true)
  })

  it('answers 304 to Last-Modified in each of the three HTTP-date forms', async () => {
    const at = new Date(lastModified)
    const day = (long: boolean) => at.toLocaleDateString('en-US', { weekday: long ? 'long' : 'short', timeZone: 'UTC' })
    const month = at.toLocaleDateString('en-US', { month: 'short', timeZone: 'UTC' })
    const two = (n: number) => String(n).padStart(2, '0')
    const time = `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())}`
    const dd = at.getUTCDate()
    const forms = [
      lastModified,
      `${day(true)}, ${two(dd)}-${month}-${two(at.getUTCFullYear() % 100)} ${time} GMT`,
      `${day(false)} ${month} ${dd < 10 ? ` ${dd}` : dd} ${time} ${at.getUTCFullYear()}`,
    ]
    for (const since of forms) expect((await fetch(url, { headers: { 'if-modified-since': since } })).status, since).toBe(304)
  })
})
