import nunjucks from 'nunjucks'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStorage } from '@stowage/core'
import { createManifest } from './manifest.js'
import { appendSuffix, ManifestStaticStorage } from './manifest-static-storage.js'
import { addStaticToNunjucks, StaticExtension } from './nunjucks.js'
import { configureStatic, loadStaticUrls, staticIntegrity, staticUrl, StaticUrls } from './static-urls.js'
import * as pkg from './index.js'

// configureStatic() sets process-wide state: put it back after every test, passed or failed.
afterEach(() => {
  configureStatic(new StaticUrls())
})

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

  it("gives no URL for names every object has ('constructor', 'toString', '__proto__'), as for any name the manifest lacks", async () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => new StaticUrls({ manifest }).url(name), name).toThrow(expect.objectContaining({ code: 'ENOENT' }))
      expect(() => new StaticUrls({ manifest }).integrity(name), name).toThrow(expect.objectContaining({ code: 'ENOENT' }))
      expect(new StaticUrls({ manifest, strict: false }).url(name)).toBe(`/static/${name}`)
    }
    const inner = new MemoryStorage({ baseUrl: '/static/' })
    const storage = new ManifestStaticStorage({ storage: inner })
    await storage.saveManifest(manifest)
    for (const name of ['constructor', 'toString']) {
      await expect(storage.url(name), name).rejects.toMatchObject({ code: 'ENOENT' })
      await expect(storage.integrity(name), name).rejects.toMatchObject({ code: 'ENOENT' })
    }
  })

  it('refuses to load a manifest whose hashed names leave the static root (EMANIFEST), instead of building URLs from them', async () => {
    const inner = new MemoryStorage({ baseUrl: '/static/' })
    await inner.save('staticfiles.json', '{"paths": {"css/app.css": "../../evil.css"}, "version": "1.1", "hash": ""}')
    await expect(loadStaticUrls(new ManifestStaticStorage({ storage: inner }))).rejects.toMatchObject({ code: 'EMANIFEST' })
    await expect(new ManifestStaticStorage({ storage: inner }).url('css/app.css')).rejects.toMatchObject({ code: 'EMANIFEST' })
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

describe('directories, as Django’s {% static %} renders them', () => {
  it("static('path/') and static('path/?query') give the prefixed path, not ENOENT", async () => {
    const urls = new StaticUrls({ manifest })
    expect(urls.url('path/')).toBe('/static/path/')
    expect(urls.url('path/?query')).toBe('/static/path/?query')
    expect(urls.url('path/?query#fragment')).toBe('/static/path/?query#fragment')
    expect(urls.url('a b/')).toBe('/static/a%20b/')
    expect(() => urls.url('../up/')).toThrow(expect.objectContaining({ code: 'ESUSPICIOUS' }))
    const storage = new ManifestStaticStorage({ storage: new MemoryStorage({ baseUrl: '/assets/' }) })
    await storage.saveManifest(manifest)
    expect(await storage.url('path/?query')).toBe('/assets/path/?query')
    expect(await storage.url('path/')).toBe('/assets/path/')
    expect(await storage.url('css/app.css')).toBe('/assets/css/app.55e7cbb9ba48.css')
  })
})

describe('Subresource Integrity', () => {
  const withIntegrity = createManifest(manifest.paths, '1.1', { 'css/app.css': 'sha384-AAA', 'js/app.js': 'sha384-B"B' })
  withIntegrity.paths['js/app.js'] = 'js/app.0123456789ab.js'

  it('staticIntegrity() returns the manifest’s integrity; none in development or for manifests without it', () => {
    const urls = new StaticUrls({ manifest: withIntegrity })
    expect(urls.integrity('css/app.css?v=1')).toBe('sha384-AAA')
    expect(urls.integrity('img/a b.png')).toBeUndefined()
    expect(() => urls.integrity('nope.css')).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(new StaticUrls().integrity('css/app.css')).toBeUndefined()
    expect(new StaticUrls({ manifest }).integrity('css/app.css')).toBeUndefined()
    configureStatic(urls)
    expect(staticIntegrity('css/app.css')).toBe('sha384-AAA')
  })

  it('builds script and stylesheet tags with integrity and crossorigin, escaping attribute values', () => {
    const urls = new StaticUrls({ manifest: withIntegrity })
    expect(urls.stylesheetTag('css/app.css')).toBe(
      '<link rel="stylesheet" href="/static/css/app.55e7cbb9ba48.css" integrity="sha384-AAA" crossorigin="anonymous">',
    )
    expect(urls.scriptTag('js/app.js', { type: 'module', defer: true, async: false, crossorigin: 'use-credentials' })).toBe(
      '<script src="/static/js/app.0123456789ab.js" integrity="sha384-B&quot;B" crossorigin="use-credentials" type="module" defer></script>',
    )
    // Without an integrity (development), a plain tag.
    expect(new StaticUrls().scriptTag('js/app.js')).toBe('<script src="/static/js/app.js"></script>')
    expect(() => urls.scriptTag('js/app.js', { 'on load': 'x' })).toThrow(expect.objectContaining({ code: 'EINVAL' }))
  })

  it('Nunjucks: {% static_script %} and {% static_stylesheet %} write whole tags, not escaped; static_integrity() the value', () => {
    const e = addStaticToNunjucks(
      new nunjucks.Environment(new nunjucks.FileSystemLoader([]), { autoescape: true }),
      new StaticUrls({ manifest: withIntegrity }),
    )
    expect(e.renderString(`{% static_stylesheet 'css/app.css' %}`, {})).toBe(
      '<link rel="stylesheet" href="/static/css/app.55e7cbb9ba48.css" integrity="sha384-AAA" crossorigin="anonymous">',
    )
    expect(e.renderString(`{% static_script name, type='module', defer=true %}`, { name: 'js/app.js' })).toBe(
      '<script src="/static/js/app.0123456789ab.js" integrity="sha384-B&quot;B" crossorigin="anonymous" type="module" defer></script>',
    )
    expect(e.renderString(`<x integrity="{{ static_integrity('css/app.css') }}">`, {})).toBe('<x integrity="sha384-AAA">')
    expect(e.renderString(`{% static 'path/?q' %}`, {})).toBe('/static/path/?q')
  })
})
