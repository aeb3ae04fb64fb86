/**
 * CI check that Django reads the manifest `collectstatic` writes: collects
 * the generated asset tree to a temporary directory, runs Django's own
 * collectstatic on the same sources, then `django_check.py` loads our
 * `staticfiles.json` with Django's `ManifestStaticFilesStorage` and compares
 * URLs and hashed names. Needs `python3` with Django (`apt-get install
 * python3-django` or `pip install django`). With Django before 4.2, which
 * reads only manifest version 1.0, the 1.0 format is checked.
 *
 *   npx tsx packages/static/scripts/django-check.ts
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileSystemStorage } from '@stowage/local'
import { collectstatic, createFinders, ManifestStaticStorage } from '../src/index.js'
import { assetTree, writeAssetTree } from '../src/testing/asset-tree.js'

const here = path.dirname(fileURLToPath(import.meta.url))
// $PYTHON, else the first python3 that has Django (a pyenv shim may shadow Debian's).
const python = [process.env.PYTHON, 'python3', '/usr/bin/python3'].find((p) => {
  if (!p) return false
  try {
    execFileSync(p, ['-c', 'import django'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})
if (!python) {
  console.error('No python3 with Django found: apt-get install -y python3-django (or set PYTHON)')
  process.exit(1)
}
const work = await mkdtemp(path.join(tmpdir(), 'stowage-django-check-'))
try {
  const src = path.join(work, 'project')
  // Django has no reference cycles or import.meta handling of its own to compare; keep the tree it can process too.
  const files = assetTree({ fillers: 40 })
  await writeAssetTree(src, files)
  // Django 3.2 to 4.1 (Debian bookworm ships 3.2) read only manifest version 1.0.
  const djangoVersion = execFileSync(python, ['-c', 'import django; print(django.VERSION[0] * 100 + django.VERSION[1])']).toString().trim()
  const manifestVersion = Number(djangoVersion) >= 402 ? '1.1' : '1.0'
  console.log(`Django ${djangoVersion}: checking manifest version ${manifestVersion}`)
  const ours = path.join(work, 'ours')
  // Compressed variants beside the hashed files must not bother Django either.
  const storage = new ManifestStaticStorage({ storage: new FileSystemStorage({ location: ours, baseUrl: '/static/' }), manifestVersion, compress: true })
  const summary = await collectstatic({ storage, finders: createFinders({ root: src, dirs: ['static'], packages: false }) })
  const manifest = (await storage.loadManifest())!
  const expected: Record<string, string> = {}
  for (const name of Object.keys(manifest.paths)) expected[name] = decodeURI(await storage.url(name))
  // Directories render as Django's {% static 'path/' %} does: prefixed, not hashed.
  for (const name of ['path/', 'path/?query']) expected[name] = await storage.url(name)
  const expectedFile = path.join(work, 'expected.json')
  await writeFile(expectedFile, JSON.stringify(expected))

  // Django's collectstatic over the same sources, for the hashed-name comparison.
  const theirs = path.join(work, 'theirs')
  const collect = [
    'import django, sys',
    'from django.conf import settings',
    `settings.configure(DEBUG=False, STATIC_URL="/static/", STATIC_ROOT=${JSON.stringify(theirs)}, STATICFILES_DIRS=[${JSON.stringify(path.join(src, 'static'))}],`,
    '  INSTALLED_APPS=["django.contrib.staticfiles"])',
    'django.setup()',
    'from django.contrib.staticfiles.storage import ManifestStaticFilesStorage',
    'from django.contrib.staticfiles.finders import get_finders',
    'from django.contrib.staticfiles.utils import get_files',
    `s = ManifestStaticFilesStorage(location=${JSON.stringify(theirs)}, base_url="/static/")`,
    'found = {}',
    'for finder in get_finders():',
    '    for path, st in finder.list(["CVS", ".*", "*~"]):',
    '        found.setdefault(path, (st, path))',
    '        with st.open(path) as f: s.save(path, f) if not s.exists(path) else None',
    '# Only plain files: Django cannot process the JS cycle and import.meta forms the tree contains.',
    'plain = {p: v for p, v in found.items() if not p.endswith((".css", ".js"))}',
    'list(s.post_process(plain))',
  ].join('\n')
  execFileSync(python, ['-c', collect], { stdio: 'inherit' })

  execFileSync(python, [path.join(here, 'django_check.py'), ours, expectedFile, theirs], { stdio: 'inherit' })
  console.log(`(collected ${summary.copied} files, ${summary.postProcessed} hashed)`)
} finally {
  await rm(work, { recursive: true, force: true })
}
