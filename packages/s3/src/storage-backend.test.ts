/**
 * `backend: 's3'` through configuration, what an S3 storage says about
 * itself, and the errors for what is missing before anything is sent.
 * Nothing here needs the S3 server: every case fails (or answers) before a
 * request would leave the process.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { applyEnvOverrides, ConfigurationError, StorageRegistry, type StowageConfig } from '@stowage/core'
import { S3Storage } from './s3-storage.js'

const made: S3Storage[] = []
afterEach(() => made.splice(0).forEach((s) => s.client.destroy()))
const keep = <T extends S3Storage>(s: T): T => (made.push(s), s)

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<ConfigurationError> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ConfigurationError)
  return err as ConfigurationError
}

const fileConfig: StowageConfig = {
  root: '/srv/app',
  storages: { default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } } },
}

describe("configuration with backend: 's3'", () => {
  it('a switch by environment keeps the file’s location as the key prefix and says baseUrl was dropped', async () => {
    const warnings: string[] = []
    const config = await applyEnvOverrides(
      fileConfig,
      { STOWAGE_DEFAULT_BACKEND: 's3', STOWAGE_DEFAULT_BUCKET: 'media-bucket', STOWAGE_DEFAULT_REGION: 'eu-west-1' },
      { warn: (m) => warnings.push(m) },
    )
    expect(config.storages.default).toEqual({ backend: 's3', options: { location: './media', bucket: 'media-bucket', region: 'eu-west-1' } })
    expect(warnings).toEqual(["STOWAGE_DEFAULT_BACKEND=s3 replaces 'local' of storages.default: kept location; dropped baseUrl (not S3Storage options)."])
    const registry = new StorageRegistry()
    await registry.configure(config)
    const storage = keep(registry.get('default') as S3Storage)
    expect(storage).toBeInstanceOf(S3Storage)
    expect(storage.key('avatars/a.png')).toBe('media/avatars/a.png')
    expect(await storage.describe()).toEqual({ backend: 'S3Storage', location: 's3://media-bucket/media/', signing: 'presigned' })
  })

  it('parses every kind of S3 option from the environment, and refuses what does not parse', async () => {
    const env = {
      STOWAGE_DEFAULT_BACKEND: 's3',
      STOWAGE_DEFAULT_BUCKET: 'b',
      STOWAGE_DEFAULT_QUERYSTRING_AUTH: 'false',
      STOWAGE_DEFAULT_EXPIRES_IN: '600',
      STOWAGE_DEFAULT_DEFAULT_ACL: 'public-read',
      STOWAGE_DEFAULT_INLINE_TYPES: 'text/html, image/svg+xml',
      STOWAGE_DEFAULT_CREDENTIALS: '{"accessKeyId":"AKIA0000","secretAccessKey":"0123456789abcdef"}',
    }
    const options = (await applyEnvOverrides(fileConfig, env, { warn: () => {} })).storages.default!.options
    expect(options).toMatchObject({
      querystringAuth: false,
      expiresIn: 600,
      defaultAcl: 'public-read',
      inlineTypes: ['text/html', 'image/svg+xml'],
      credentials: { accessKeyId: 'AKIA0000', secretAccessKey: '0123456789abcdef' },
    })
    const bad: [string, string, RegExp][] = [
      ['STOWAGE_DEFAULT_QUERYSTRING_AUTH', 'nope', /querystringAuth \(STOWAGE_DEFAULT_QUERYSTRING_AUTH\): must be true or false, got 'nope'/],
      ['STOWAGE_DEFAULT_DEFAULT_ACL', 'public', /defaultAcl \(STOWAGE_DEFAULT_DEFAULT_ACL\): must be one of 'private', 'public-read'/],
      ['STOWAGE_DEFAULT_CREDENTIALS', 'AKIA:secret', /credentials \(STOWAGE_DEFAULT_CREDENTIALS\): must be a JSON object, got \(hidden\)/],
      ['STOWAGE_DEFAULT_BUCKET_NAME', 'b', /did you mean STOWAGE_DEFAULT_BUCKET, which sets storages.default.options.bucket/],
    ]
    for (const [variable, value, message] of bad) {
      const err = await errorOf(applyEnvOverrides(fileConfig, { ...env, [variable]: value }, { warn: () => {} }))
      expect(err.message, variable).toMatch(message)
      expect(err.message).not.toContain('secret')
    }
  })

  it('refuses file options of the wrong kind or with a typo, naming key and variable', async () => {
    const config = (options: Record<string, unknown>): StowageConfig => ({ storages: { media: { backend: 's3', options: { bucket: 'b', ...options } } } })
    const typo = await errorOf(new StorageRegistry().configure(config({ baseUrl: '/m/' })))
    expect(typo).toMatchObject({ key: 'storages.media.options.baseUrl', env: 'STOWAGE_MEDIA_BASE_URL' })
    const kind = await errorOf(new StorageRegistry().configure(config({ querystringAuth: 'false' })))
    expect(kind.message).toBe("storages.media.options.querystringAuth (STOWAGE_MEDIA_QUERYSTRING_AUTH): must be true or false, got 'false'")
    const registry = new StorageRegistry()
    await registry.configure(config({ credentials: { accessKeyId: 'AKIA0000', secretAccessKey: '' } }))
    const blank = await errorOf(() => registry.get('media'))
    expect(blank).toMatchObject({ key: 'storages.media.options.credentials.secretAccessKey', env: 'STOWAGE_MEDIA_CREDENTIALS' })
  })
})

describe('S3Storage.describe()', () => {
  const base = {
    bucket: 'assets',
    endpoint: 'http://127.0.0.1:9000',
    location: 'static',
    credentials: { accessKeyId: 'AKIA0000', secretAccessKey: '0123456789abcdef' },
  }

  it('gives the plain URL prefix of a public bucket, a CDN’s, and none when every URL is presigned', async () => {
    expect((await keep(new S3Storage({ ...base, querystringAuth: false })).describe()).baseUrl).toBe('http://127.0.0.1:9000/assets/static/')
    expect((await keep(new S3Storage({ ...base, customDomain: 'cdn.example.com' })).describe()).baseUrl).toBe('https://cdn.example.com/static/')
    const aws = keep(new S3Storage({ bucket: 'assets', region: 'eu-west-1', querystringAuth: false, credentials: base.credentials }))
    expect((await aws.describe()).baseUrl).toBe('https://assets.s3.eu-west-1.amazonaws.com/')
    expect(await aws.url('css/a b.css')).toBe(`${(await aws.describe()).baseUrl}css/a%20b.css`)
    expect(await keep(new S3Storage(base)).describe()).toEqual({
      backend: 'S3Storage',
      location: 's3://assets/static/ at http://127.0.0.1:9000',
      signing: 'presigned',
    })
  })
})

describe('errors before anything is sent', () => {
  const saved: Record<string, string | undefined> = {}
  const isolated = {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_PROFILE: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/stowage-test/credentials',
    AWS_CONFIG_FILE: '/nonexistent/stowage-test/config',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: undefined,
    AWS_DEFAULT_REGION: undefined,
  }
  beforeEach(() => {
    for (const [k, v] of Object.entries(isolated)) {
      saved[k] = process.env[k]
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })

  it('no credentials anywhere is ECONFIG naming the credentials option and where the SDK looked, not "refused by S3"', async () => {
    // Port 9 (discard): were anything sent, the error would be a connection failure instead.
    const storage = keep(new S3Storage({ bucket: 'b', endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }))
    const err = await errorOf(storage.exists('a.txt'))
    expect(err.key).toBe('credentials')
    expect(err.message).toMatch(
      /^credentials: no credentials found, so nothing was sent to S3 \(exists 'a.txt'\)\. The SDK looked for AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE/,
    )
    expect(err.message).not.toMatch(/refused/)

    const registry = new StorageRegistry()
    await registry.configure({ storages: { media: { backend: 's3', options: { bucket: 'b', endpoint: 'http://127.0.0.1:9', maxAttempts: 1 } } } })
    const configured = keep(registry.get('media') as S3Storage)
    const named = await errorOf(configured.save('a.txt', 'x'))
    expect(named).toMatchObject({ key: 'storages.media.options.credentials', env: 'STOWAGE_MEDIA_CREDENTIALS' })
  })

  it('no region on AWS is ECONFIG naming the region option', async () => {
    const storage = keep(new S3Storage({ bucket: 'b', credentials: { accessKeyId: 'AKIA0000', secretAccessKey: '0123456789abcdef' }, maxAttempts: 1 }))
    const err = await errorOf(storage.stat('a.txt'))
    expect(err.key).toBe('region')
    expect((await errorOf(storage.url('a.txt'))).key).toBe('region')
    // A plain bucket URL names the region too: url() and describe() (what `stowage check` prints) alike.
    const plain = keep(new S3Storage({ bucket: 'b', credentials: { accessKeyId: 'AKIA0000', secretAccessKey: '0123456789abcdef' }, querystringAuth: false }))
    expect((await errorOf(plain.url('a.txt'))).key).toBe('region')
    expect((await errorOf(plain.describe())).key).toBe('region')
  })
})
