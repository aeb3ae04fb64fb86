/**
 * The profiles example's start-up contract, without a browser: production
 * mode on local disk serves collected, hashed static files; configuration
 * mistakes stop it at start with a message naming the setting.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { collectStatic, runInApp, startApp } from './app-process.js'

let dir: string
let env: NodeJS.ProcessEnv
// Everything production asks for but the collected static files.
const PRODUCTION_SECRETS = {
  NODE_ENV: 'production',
  STOWAGE_PRIVATE_SIGNING_SECRET: 'a-production-secret-for-this-test',
  PROFILES_VARIANT_SECRET: 'a-variant-secret-for-this-test-0123456789',
}
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stowage-profiles-start-'))
  env = {
    STOWAGE_DEFAULT_LOCATION: path.join(dir, 'media'),
    STOWAGE_PRIVATE_LOCATION: path.join(dir, 'private-media'),
    STOWAGE_STATICFILES_LOCATION: path.join(dir, 'staticfiles'),
    PROFILES_DB: path.join(dir, 'profiles.sqlite'),
  }
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('profiles example start-up', () => {
  it('serves hashed, immutable static files in production after stowage collectstatic', { timeout: 60_000 }, async () => {
    expect(await collectStatic(env)).toMatch(/static files? copied/)
    const app = await startApp({ ...env, ...PRODUCTION_SECRETS })
    try {
      const html = await (await fetch(app.url)).text()
      const href = /<link rel="stylesheet" href="([^"]+)">/.exec(html)?.[1]
      expect(href).toMatch(/^\/static\/css\/app\.[0-9a-f]{12}\.css$/)
      expect(html).toContain('static from ManifestStaticStorage(FileSystemStorage)')
      const css = await fetch(new URL(href!, app.url))
      expect(css.status).toBe(200)
      expect(css.headers.get('content-type')).toMatch(/^text\/css/)
      expect(css.headers.get('cache-control')).toContain('immutable')
      // References inside the stylesheet were rewritten to hashed names too.
      expect(await css.text()).toMatch(/url\("\.\.\/img\/stripe\.[0-9a-f]{12}\.svg"\)/)
    } finally {
      await app.stop()
    }
  })

  it('refuses to start in production with the public development signing secret', { timeout: 30_000 }, async () => {
    const { code, output } = await runInApp(['server.js'], { ...env, NODE_ENV: 'production' })
    expect(code).toBe(1)
    expect(output).toContain('STOWAGE_PRIVATE_SIGNING_SECRET')
  })

  it('refuses to start in production before collectstatic has run', { timeout: 30_000 }, async () => {
    const { code, output } = await runInApp(['server.js'], { ...env, ...PRODUCTION_SECRETS })
    expect(code).toBe(1)
    expect(output).toContain('stowage collectstatic')
  })

  it('stops at start with the bad setting named when the configuration is wrong', { timeout: 30_000 }, async () => {
    const { code, output } = await runInApp(['server.js'], { ...env, STOWAGE_DEFAULT_BACKEND: 'floppy-disk' })
    expect(code).not.toBe(0)
    expect(output).toContain('storages.default.backend')
    expect(output).toContain("unknown backend 'floppy-disk'")
  })
})
