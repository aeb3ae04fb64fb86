/**
 * A generated project of realistic static assets for tests and benchmarks:
 * nested CSS and JS modules, images, fonts and source maps, using every
 * reference form `ManifestStaticStorage` must handle (all url() quoting
 * styles, @import both ways, @font-face hacks, data: URIs, absolute and
 * protocol-relative URLs, fragments, queries, percent-encoded names,
 * commented-out references, dynamic imports, a reference cycle).
 */
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'

/** Deterministic pseudo-random bytes, so generated "images" have stable hashes. */
export function fakeBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  let block = createHash('sha256').update(seed).digest()
  for (let i = 0; i < size; i += block.length) {
    block.copy(out, i, 0, Math.min(block.length, size - i))
    block = createHash('sha256').update(block).digest()
  }
  return out
}

/** The project tree, relative to the project root; `package.json` declares `packages/*` as workspaces. */
export function assetTree(options: { fillers?: number; fillerSize?: number } = {}): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {
    'package.json': JSON.stringify({ name: 'site', private: true, workspaces: ['packages/*'] }),
    'static/css/app.css': [
      '@import "base.css";',
      "@import 'components/buttons.css';",
      '@import url("vendor/normalize.css");',
      '@font-face {',
      '  font-family: Inter;',
      "  src: url('../fonts/inter.woff2') format('woff2'),",
      '       url(../fonts/inter.eot?#iefix) format("embedded-opentype"),',
      '       url("../fonts/inter.svg#inter") format("svg");',
      '}',
      '.logo { background: url(../img/logo.png) }',
      '.hero { background-image: url( "../img/hero%20bg.jpg" ) }',
      '.icon { background: url(data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=) }',
      '.icon2 { background: url(\'data:image/svg+xml;utf8,<svg xmlns="http://www.w3.org/2000/svg"></svg>\') }',
      '.cdn { background: url(https://cdn.example.com/x.png) }',
      '.proto { background: url(//cdn.example.com/y.png) }',
      '.abs { background: url(/static/img/abs.png) }',
      '.frag { filter: url(#svg-filter) }',
      ".query { background: url('../img/sprite.png?v=3') }",
      '/* .old { background: url(../img/removed.png) } */',
      '/*# sourceMappingURL=app.css.map */',
      '',
    ].join('\n'),
    'static/css/app.css.map': JSON.stringify({ version: 3, file: 'app.css', sources: ['app.scss'], mappings: 'AAAA' }),
    'static/css/base.css': ".base { background: url('../img/logo.png') no-repeat }\n",
    'static/css/components/buttons.css': '.btn { background: url(../../img/icons/arrow.svg) }\n@import "../cycle-a.css";\n',
    'static/css/vendor/normalize.css': 'html { line-height: 1.15 }\n',
    'static/css/cycle-a.css': '@import "cycle-b.css";\n.a { color: red }\n',
    'static/css/cycle-b.css': '@import "cycle-a.css";\n.b { color: blue }\n',
    'static/js/app.js': [
      "import { util } from './lib/util.js'",
      'import {',
      '  helper,',
      '  other as renamed,',
      "} from './lib/helpers.js';",
      "export * from './lib/re-export.js'",
      "import './polyfill.js'",
      "import React from 'react'",
      "const lazy = () => import('./chunks/lazy.js')",
      "const logo = new URL('../img/logo.png', import.meta.url)",
      "// import gone from './gone.js'",
      'const s = "import x from \'./in-a-string.js\'"',
      'console.log(util, helper, renamed, lazy, logo, s, React)',
      '//# sourceMappingURL=app.js.map',
      '',
    ].join('\n'),
    'static/js/app.js.map': JSON.stringify({ version: 3, file: 'app.js', sources: ['app.ts'], mappings: 'AAAA' }),
    'static/js/lib/util.js': 'export const util = 1\nexport const load = () => import("../chunks/lazy.js")\n',
    'static/js/lib/helpers.js': 'export const helper = 2, other = 3\n',
    'static/js/lib/re-export.js': "export { util as again } from './util.js'\n",
    'static/js/polyfill.js': 'globalThis.x ??= 1\n',
    'static/js/chunks/lazy.js': "import { util } from '../lib/util.js'\nexport default util\n",
    'static/img/logo.png': fakeBytes('logo', 2048),
    'static/img/hero bg.jpg': fakeBytes('hero', 4096),
    'static/img/abs.png': fakeBytes('abs', 512),
    'static/img/sprite.png': fakeBytes('sprite', 1024),
    'static/img/icons/arrow.svg': '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1"/></svg>\n',
    'static/fonts/inter.woff2': fakeBytes('woff2', 3000),
    'static/fonts/inter.eot': fakeBytes('eot', 3000),
    'static/fonts/inter.svg': '<svg xmlns="http://www.w3.org/2000/svg"><font id="inter"/></svg>\n',
    'static/.DS_Store': 'ignored',
    'static/css/app.css~': 'ignored backup',
    'vendor/jquery/jquery.min.js': '/*! jQuery */\nwindow.jQuery = {}\n',
    'packages/ui/static/ui/widget.css': '.w { background: url(../img/logo.png) }\n',
    'packages/ui/static/css/base.css': '/* shadowed by static/css/base.css */\n',
    'packages/ui/package.json': JSON.stringify({ name: '@site/ui' }),
  }
  const n = options.fillers ?? 0
  for (let i = 0; i < n; i++) {
    const dir = `static/gen/${String(i % 20).padStart(2, '0')}`
    if (i % 4 === 0) files[`${dir}/style-${i}.css`] = `.g${i} { background: url(../../img/logo.png) }\n`
    else files[`${dir}/asset-${i}.bin`] = fakeBytes(`filler-${i}`, options.fillerSize ?? 1024)
  }
  return files
}

/** The `staticfiles.dirs` matching `assetTree()`. */
export const ASSET_TREE_DIRS: Array<string | [string, string]> = ['static', ['vendor', 'vendor']]

/** Writes `assetTree(options)` (or `files`) under `root`. */
export async function writeAssetTree(root: string, files: Record<string, string | Buffer> = assetTree()): Promise<void> {
  await Promise.all(
    Object.entries(files).map(async ([rel, body]) => {
      const file = path.join(root, ...rel.split('/'))
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, body)
    }),
  )
}
