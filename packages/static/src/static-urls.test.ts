import nunjucks from 'nunjucks'
import { describe, expect, it } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import { createManifest } from './manifest.js'
import { appendSuffix, ManifestStaticStorage } from './manifest-static-storage.js'
import { addStaticToNunjucks, StaticExtension } from './nunjucks.js'
import { configureStatic, loadStaticUrls, staticUrl, StaticUrls } from './static-urls.js'
import * as pkg from './index.js'

const manifest = createManifest({ 'css/app.css': 'css/app.55e7cbb9ba48.css', 'img/a b.png': 'img/a b.0123456789ab.png' })

describe('static()', () => {
  it('returns hashed URLs from the manifest, keeping query and fragment, percent-encoded', () => {
    const urls = new StaticUrls({ manifest, baseUrl: '/static' })
    expect(urls.url('css/app.css')).toBe('/static/css/app.55e7cbb9ba48.css')
    expect(urls.url('css/app.css?v=1#x')).toBe('/static/css/app.55e7cbb9ba48.css?v=1#x')
    expect(urls.url('img/a b.png')).toBe('/static/img/a%20b.0123456789ab.png')
  })

  it('throws ENOENT in strict mode for a path not in the manifest, falls back when lenient', () => {
    expect(() => new StaticUrls({ manifest }).url('css/missing.css')).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(new StaticUrls({ manifest, strict: false }).url('css/missing.css')).toBe('/static/css/missing.css')
  })

  it('refuses paths that escape the static root', () => {
    expect(() => new StaticUrls().url('../secret')).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
  })

  it('is plain without a manifest (development) and in debug mode', async () => {
    expect(new StaticUrls({ baseUrl: 'https://cdn.example/s/' }).url('css/app.css')).toBe('https://cdn.example/s/css/app.css')
    const storage = new ManifestStaticStorage({ storage: new MemoryStorage({ baseUrl: '/assets/' }), staticUrl: '/assets/' })
    await storage.saveManifest(manifest)
    const prod = await loadStaticUrls(new ManifestStaticStorage({ storage: storage.storage, staticUrl: '/assets/' }))
    expect(prod.url('css/app.css')).toBe('/assets/css/app.55e7cbb9ba48.css')
    const dev = await loadStaticUrls(storage, { debug: true })
    expect(dev.url('css/app.css')).toBe('/assets/css/app.css')
  })

  it('module-level staticUrl (exported as `static`) uses what configureStatic set', () => {
    configureStatic({ manifest })
    expect(staticUrl('css/app.css')).toBe('/static/css/app.55e7cbb9ba48.css')
    expect(pkg.static('css/app.css')).toBe('/static/css/app.55e7cbb9ba48.css')
    configureStatic(new StaticUrls())
    expect(pkg.static('css/app.css')).toBe('/static/css/app.css')
  })
})

describe('appendSuffix', () => {
  it('joins queries of presigned URLs and keeps fragments and the ?#iefix hack', () => {
    expect(appendSuffix('/s/a.css', '?v=1#x')).toBe('/s/a.css?v=1#x')
    expect(appendSuffix('https://h/a.css?X-Amz-Signature=1', '?v=1#x')).toBe('https://h/a.css?X-Amz-Signature=1&v=1#x')
    expect(appendSuffix('/s/a.eot', '?#iefix')).toBe('/s/a.eot?#iefix')
    expect(appendSuffix('/s/a.css', '')).toBe('/s/a.css')
  })
})

describe('Nunjucks', () => {
  const env = () => new nunjucks.Environment(new nunjucks.FileSystemLoader([]), { autoescape: true, throwOnUndefined: true })

  it('renders {% static %} and static() with the hashed URL', () => {
    const e = addStaticToNunjucks(env(), new StaticUrls({ manifest }))
    expect(e.renderString(`<link href="{% static 'css/app.css' %}">`, {})).toBe('<link href="/static/css/app.55e7cbb9ba48.css">')
    expect(e.renderString(`{% static path %}`, { path: 'img/a b.png' })).toBe('/static/img/a%20b.0123456789ab.png')
    expect(e.renderString(`{{ static('css/app.css') }}`, {})).toBe('/static/css/app.55e7cbb9ba48.css')
  })

  it('fails the render for a path not in the manifest', () => {
    const e = env()
    e.addExtension('StaticExtension', new StaticExtension(new StaticUrls({ manifest })))
    expect(() => e.renderString(`{% static 'nope.css' %}`, {})).toThrow(/nope\.css/)
  })
})
