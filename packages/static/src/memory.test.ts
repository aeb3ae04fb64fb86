/**
 * What a run keeps alive: measured on the heap after forced collections, so
 * these fail when something holds on to whole files (a slice of a
 * stylesheet keeps the stylesheet; a kept buffer reachable from the plan
 * stays until the run ends), not when V8 merely collects late.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, expect, it } from 'vitest'
import { FileSystemStorage } from '@stowage/local'
import type { Content, SaveOptions } from '@stowage/core'
import { collectstatic } from './collectstatic.js'
import { COLLECT_STATE_NAME } from './collect-record.js'
import { createFinders } from './finders.js'
import { md5Hex } from './hashing.js'
import { ManifestStaticStorage } from './manifest-static-storage.js'
import { postProcess, type PostProcessInput } from './post-process.js'
import { findReferences } from './references.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Bytes alive on the heap and in buffers after two full collections. */
function live(): number {
  gc()
  gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

const MB = 1024 * 1024
/**
 * A stylesheet of about `size` bytes with a URL (15 characters: long enough
 * for V8 to slice rather than copy) to the logo every 4 KB.
 */
const stylesheet = (i: number, size: number) => {
  const rule = `.r${i}${'-x'.repeat(2000)}{background:url(../img/logo.png)}\n`
  return rule.repeat(Math.ceil(size / rule.length))
}

const dirs: string[] = []
afterAll(() => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))))

it('the references found in a stylesheet do not keep its text alive', () => {
  const refs = []
  const before = live()
  for (let i = 0; i < 10; i++) refs.push(findReferences('css', stylesheet(i, 2 * MB)))
  const held = live() - before
  expect(refs.flat().length).toBeGreaterThan(5_000)
  expect(refs.every((r) => r[0]!.url === '../img/logo.png')).toBe(true)
  // 20 MB of text went through; what is left is the 5,000 references themselves.
  expect(held).toBeLessThan(6 * MB)
})

it('a plan keeps neither the callers inputs nor, once released, their bytes', () => {
  const files = Array.from({ length: 20 }, (_, i) => [`css/s${i}.css`, Buffer.from(stylesheet(i, MB))] as const)
  // load() reads again (here: makes the same bytes anew), as collectstatic's reads the file.
  const load = (i: number) => () => Buffer.from(stylesheet(i, MB))
  let inputs: Map<string, PostProcessInput> | undefined = new Map(files.map(([name, bytes], i) => [name, { md5: md5Hex(bytes), bytes, load: load(i) }]))
  inputs.set('img/logo.png', { md5: md5Hex('png') })
  const before = live() - 20 * MB // the files above, alive in `files` until the plan is made
  // Rewritten contents are kept (no budget), then released as a run does once each is written.
  const plan = postProcess(inputs)
  inputs = undefined
  expect(plan.files.get('css/s0.css')!.content).toBeDefined()
  for (const [name] of files) plan.release(name)
  files.length = 0 // what a caller drops once written
  expect(live() - before).toBeLessThan(6 * MB)
  expect(plan.files.get('css/s3.css')!.hashedName).toMatch(/^css\/s3\.[0-9a-f]{12}\.css$/)
})

it('collectstatic holds neither its sources bytes nor their text until the run ends', async () => {
  const src = await mkdtemp(path.join(tmpdir(), 'stowage-memory-src-'))
  const warm = await mkdtemp(path.join(tmpdir(), 'stowage-memory-warm-'))
  const dest = await mkdtemp(path.join(tmpdir(), 'stowage-memory-dest-'))
  dirs.push(src, warm, dest)
  await mkdir(path.join(src, 'css'))
  await mkdir(path.join(src, 'img'))
  await writeFile(path.join(src, 'img/logo.png'), 'png')
  for (let i = 0; i < 40; i++) await writeFile(path.join(src, `css/s${i}.css`), stylesheet(i, MB / 2))
  // A file already there: the run writes in place (not into a stage), through this storage's save().
  await writeFile(path.join(dest, 'keep.txt'), 'x')
  let atRecord: number | undefined
  class Probe extends FileSystemStorage {
    override async save(name: string, content: Content, options?: SaveOptions): Promise<string> {
      if (name === COLLECT_STATE_NAME) atRecord = live()
      return super.save(name, content, options)
    }
  }
  const finders = createFinders({ root: src, dirs: [src], packages: false })
  const run = (location: string) => collectstatic({ storage: new ManifestStaticStorage({ storage: new Probe({ location }), staticUrl: '/static/' }), finders })
  // A first run elsewhere loads every module a run uses, so the measured one adds only what it holds.
  expect((await run(warm)).errors).toEqual([])
  const before = live()
  const summary = await run(dest)
  expect(summary.errors).toEqual([])
  expect(summary.postProcessed).toBeGreaterThanOrEqual(40)
  // 20 MB of stylesheets were read, planned, rewritten and written; by the time the record is saved none of it is held.
  expect(atRecord).toBeDefined()
  expect(atRecord! - before).toBeLessThan(5 * MB)
})
