/**
 * The README's "Images" example, run as written: only its imports become
 * reads of the modules this test has, its `./media` a temporary directory and
 * its port a free one. Then a client asks for both variants.
 */
import * as http from 'node:http'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, expect, it } from 'vitest'
import * as core from '@stowage/core'
import * as local from '@stowage/local'
import * as httpPkg from '@stowage/http'
import * as imagesPkg from './index.js'

const modules: Record<string, unknown> = {
  'node:http': http,
  sharp: { default: sharp },
  '@stowage/core': core,
  '@stowage/local': local,
  '@stowage/images': imagesPkg,
  '@stowage/http': httpPkg,
}

let dir: string | undefined
let server: http.Server | undefined
afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
  if (dir) await rm(dir, { recursive: true, force: true })
})

it('the README Images example runs as written and serves both variants', async () => {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Images\n'))
  const start = section.indexOf('```ts\n') + 6
  let code = section.slice(start, section.indexOf('\n```', start))
  dir = await mkdtemp(path.join(tmpdir(), 'stowage-readme-images-'))
  code = code
    .replace(/^import (\w+) from '([^']+)'$/gm, (_, name: string, mod: string) => `const ${name} = modules[${JSON.stringify(mod)}].default`)
    .replace(/^import \{([^}]+)\} from '([^']+)'$/gm, (_, names: string, mod: string) => `const {${names}} = modules[${JSON.stringify(mod)}]`)
    .replace("location: './media'", `location: ${JSON.stringify(dir)}`)
    .replace('server.listen(3000)', 'server.listen(0, "127.0.0.1")')
    .replace(/ as string \| null/g, '')
  expect(code).not.toMatch(/^import /m)
  const lines: unknown[][] = []
  const log = { log: (...args: unknown[]) => lines.push(args) }
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<unknown>
  const result = (await new AsyncFunction('modules', 'console', 'process', `${code}\nreturn { server }`)(modules, log, process)) as { server: http.Server }
  server = result.server
  await new Promise((resolve) => (server!.listening ? resolve(undefined) : server!.once('listening', resolve)))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  expect(lines[0]).toEqual(['avatars/photo.jpg', 2400, 1600])
  expect(lines[1]).toEqual(['/media/avatars/photo.jpg.variants/thumb.webp'])
  expect(String(lines[2]?.[0])).toMatch(/^\/variants\/avatars\/photo\.jpg\?v=large&w=1600&f=avif&sig=[\w-]+$/)

  const thumb = await fetch(base + String(lines[1]![0]))
  expect(thumb.status).toBe(200)
  const t = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()
  expect([t.format, t.width, t.height]).toEqual(['webp', 160, 160])

  const large = await fetch(base + String(lines[2]![0]))
  expect(large.status).toBe(200)
  expect(large.headers.get('cache-control')).toBe(httpPkg.VARIANT_CACHE_CONTROL)
  const l = await sharp(Buffer.from(await large.arrayBuffer())).metadata()
  expect([l.format, l.width, l.height]).toEqual(['heif', 1600, 1067])
})
