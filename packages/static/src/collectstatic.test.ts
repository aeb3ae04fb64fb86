import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'
import { collectstatic } from './collectstatic.js'
import { createFinders } from './finders.js'
import { ManifestStaticStorage } from './manifest-static-storage.js'
import { runCollectstaticSuite } from './testing/collectstatic-suite.js'
import { runStaticExtrasSuite } from './testing/static-extras-suite.js'

const memory = { name: 'MemoryStorage', create: () => new MemoryStorage({ baseUrl: '/static/' }) }
// Every storage root the suites asked for, removed when they are done.
const roots: string[] = []
afterAll(() => Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true }))))
const local = {
  name: 'FileSystemStorage',
  create: async () => {
    const location = await mkdtemp(path.join(tmpdir(), 'stowage-static-root-'))
    roots.push(location)
    return new FileSystemStorage({ location, baseUrl: '/static/' })
  },
}
runCollectstaticSuite(memory)
runCollectstaticSuite(local)
runStaticExtrasSuite(memory)
runStaticExtrasSuite(local)

it('on local disk, a hashed copy with the original\'s bytes is a hard link to the stored original; a rewritten one is a file of its own; a changed original later leaves the old hashed copy intact', async () => {
  const src = await mkdtemp(path.join(tmpdir(), 'stowage-link-src-'))
  roots.push(src)
  await mkdir(path.join(src, 'css'))
  await writeFile(path.join(src, 'logo.png'), 'png bytes')
  await writeFile(path.join(src, 'css/app.css'), 'body { background: url(../logo.png) }')
  const inner = (await local.create()) as FileSystemStorage
  const storage = new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' })
  const first = await collectstatic({ storage, finders: createFinders({ root: src, dirs: [src], packages: false }) })
  expect(first.errors).toEqual([])
  const logo = await storage.storedName('logo.png')
  const css = await storage.storedName('css/app.css')
  expect([logo, css].every((n, i) => n !== ['logo.png', 'css/app.css'][i])).toBe(true)
  const ino = async (n: string) => (await stat(inner.path(n))).ino
  expect(await ino(logo)).toBe(await ino('logo.png'))
  expect(await ino(css)).not.toBe(await ino('css/app.css'))
  // The original changes: its new hashed copy links to the new original, the old one keeps its bytes.
  await writeFile(path.join(src, 'logo.png'), 'new png bytes')
  await collectstatic({ storage: new ManifestStaticStorage({ storage: inner, staticUrl: '/static/' }), finders: createFinders({ root: src, dirs: [src], packages: false }) })
  expect(Buffer.from(await inner.read(logo)).toString()).toBe('png bytes')
  expect(Buffer.from(await inner.read('logo.png')).toString()).toBe('new png bytes')
})
