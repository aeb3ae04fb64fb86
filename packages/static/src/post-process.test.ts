import { describe, expect, it } from 'vitest'
import { integrityOf, md5Hex } from './hashing.js'
import { postProcess, type PostProcessInput } from './post-process.js'

function inputs(files: Record<string, string>): Map<string, PostProcessInput> {
  return new Map(
    Object.entries(files).map(([name, text]) => {
      const bytes = Buffer.from(text)
      return [name, { md5: md5Hex(bytes), bytes }]
    }),
  )
}

const text = (plan: ReturnType<typeof postProcess>, name: string) => {
  const f = plan.files.get(name)!
  return f.content?.toString('utf8')
}

describe('postProcess', () => {
  const tree = {
    'img/logo.png': 'PNG1',
    'css/base.css': '.x{background:url(../img/logo.png)}',
    'css/app.css': '@import "base.css";\n.y{background:url("../img/logo.png#frag")}',
    'js/app.js': "import { a } from './util.js'\nconsole.log(a)",
    'js/util.js': 'export const a = 1',
  }

  it('names plain files by their content hash and rewrites references to hashed names', () => {
    const plan = postProcess(inputs(tree))
    expect(plan.problems).toEqual([])
    const logo = plan.files.get('img/logo.png')!
    expect(logo.hashedName).toBe(`img/logo.${md5Hex('PNG1').slice(0, 12)}.png`)
    expect(text(plan, 'css/base.css')).toBe(`.x{background:url(../${logo.hashedName})}`)
    const base = plan.files.get('css/base.css')!
    expect(base.hashedName).toBe(`css/base.${md5Hex(base.content!).slice(0, 12)}.css`)
    expect(text(plan, 'css/app.css')).toContain(`@import "${base.hashedName.slice(4)}"`)
    expect(text(plan, 'css/app.css')).toContain(`url("../${logo.hashedName}#frag")`)
    expect(text(plan, 'js/app.js')).toContain(`from './${plan.files.get('js/util.js')!.hashedName.slice(3)}'`)
    expect(plan.files.get('js/util.js')!.content).toBeUndefined()
  })

  it('propagates a changed image through the chain of stylesheets', () => {
    const a = postProcess(inputs(tree))
    const b = postProcess(inputs({ ...tree, 'img/logo.png': 'PNG2' }))
    for (const name of ['img/logo.png', 'css/base.css', 'css/app.css']) {
      expect(b.files.get(name)!.hashedName).not.toBe(a.files.get(name)!.hashedName)
    }
    expect(b.files.get('js/app.js')!.hashedName).toBe(a.files.get('js/app.js')!.hashedName)
  })

  it('reports every missing reference with file and line', () => {
    const plan = postProcess(inputs({ 'css/a.css': '.a{}\n.b{background:url(missing.png)}', 'js/m.js': "\n\nimport x from './nope.js'" }))
    expect(plan.problems.map((p) => [p.file, p.line, p.target])).toEqual([
      ['css/a.css', 2, 'css/missing.png'],
      ['js/m.js', 3, 'js/nope.js'],
    ])
  })

  it('handles cycles: members get stable names that change when any member changes', () => {
    const cyc = { 'a.css': '@import "b.css";\n.a{}', 'b.css': '@import "a.css";\n.b{}', 'c.css': '@import "a.css";' }
    const p1 = postProcess(inputs(cyc))
    expect(p1.problems).toEqual([])
    expect(p1.cycles).toEqual([['a.css', 'b.css']])
    const a = p1.files.get('a.css')!
    const b = p1.files.get('b.css')!
    expect(text(p1, 'a.css')).toContain(`@import "${b.hashedName}"`)
    expect(text(p1, 'b.css')).toContain(`@import "${a.hashedName}"`)
    expect(text(p1, 'c.css')).toContain(`@import "${a.hashedName}"`)
    expect(postProcess(inputs(cyc)).files.get('a.css')!.hashedName).toBe(a.hashedName)
    const p2 = postProcess(inputs({ ...cyc, 'b.css': '@import "a.css";\n.b{color:red}' }))
    expect(p2.files.get('a.css')!.hashedName).not.toBe(a.hashedName)
    expect(p2.files.get('c.css')!.hashedName).not.toBe(p1.files.get('c.css')!.hashedName)
  })

  it('handles a file that references itself', () => {
    const plan = postProcess(inputs({ 'self.css': '.a{background:url(self.css)}' }))
    const f = plan.files.get('self.css')!
    expect(text(plan, 'self.css')).toBe(`.a{background:url(${f.hashedName})}`)
  })

  it('reports non-UTF-8 stylesheets and still hashes them', () => {
    const plan = postProcess(new Map([['bad.css', { md5: md5Hex(Buffer.from([0xff, 0xfe])), bytes: Buffer.from([0xff, 0xfe]) }]]))
    expect(plan.problems[0]?.message).toMatch(/UTF-8/)
    expect(plan.files.get('bad.css')!.hashedName).toMatch(/^bad\.[0-9a-f]{12}\.css$/)
  })
  it('drops a sourceMappingURL to a missing map (CSS and JS) with a warning by default, an error with missingSourcemaps: error', () => {
    const files = {
      'js/lib.min.js': 'lib()\n//# sourceMappingURL=lib.min.js.map\n',
      'css/lib.css': '.a{}\n/*# sourceMappingURL=lib.css.map */\n',
      'css/ok.css': '.b{}\n/*# sourceMappingURL=ok.css.map */',
      'css/ok.css.map': '{}',
      'css/up.css': '/*# sourceMappingURL=../../outside.map */',
    }
    const plan = postProcess(inputs(files))
    expect(plan.problems).toEqual([])
    expect(plan.warnings.map((w) => [w.file, w.line, w.kind]).sort()).toEqual([
      ['css/lib.css', 2, 'sourcemap'],
      ['css/up.css', 1, 'sourcemap'],
      ['js/lib.min.js', 2, 'sourcemap'],
    ])
    expect(text(plan, 'js/lib.min.js')).toBe('lib()\n\n')
    expect(text(plan, 'css/lib.css')).toBe('.a{}\n\n')
    expect(text(plan, 'css/ok.css')).toBe(`.b{}\n/*# sourceMappingURL=${plan.files.get('css/ok.css.map')!.hashedName.slice(4)} */`)
    // The hashed name is that of the content without the comment.
    expect(plan.files.get('js/lib.min.js')!.hashedName).toBe(`js/lib.min.${md5Hex('lib()\n\n').slice(0, 12)}.js`)

    const strict = postProcess(inputs(files), { missingSourcemaps: 'error' })
    expect(strict.warnings).toEqual([])
    expect(strict.problems.map((p) => p.file).sort()).toEqual(['css/lib.css', 'css/up.css', 'js/lib.min.js'])
  })

  it('gives every file its integrity: the source’s when not rewritten, the rewritten bytes’ otherwise', () => {
    const withIntegrity = new Map([...inputs(tree)].map(([n, i]) => [n, { ...i, integrity: integrityOf(i.bytes!) }]))
    const plan = postProcess(withIntegrity)
    expect(plan.files.get('img/logo.png')!.integrity).toBe(integrityOf('PNG1'))
    expect(plan.files.get('js/util.js')!.integrity).toBe(integrityOf('export const a = 1'))
    expect(plan.files.get('css/base.css')!.integrity).toBe(integrityOf(plan.files.get('css/base.css')!.content!))
    expect(integrityOf('abc')).toBe('sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn')
  })

  it('earlier: references to files an earlier plan made resolve to their recorded names; they are not read, and not in files', () => {
    const earlierNames: Record<string, string> = { 'img/logo.png': 'img/logo.0123456789ab.png' }
    const plan = postProcess(inputs({ 'css/base.css': tree['css/base.css'], 'css/missing.css': '.m{background:url(../img/gone.png)}' }), {
      earlier: (name) => earlierNames[name],
    })
    expect(text(plan, 'css/base.css')).toBe('.x{background:url(../img/logo.0123456789ab.png)}')
    expect(plan.files.has('img/logo.png')).toBe(false)
    expect(plan.problems.map((p) => p.target)).toEqual(['img/gone.png'])
    expect(() => postProcess(inputs({ 'css/base.css': tree['css/base.css'] }), { earlier: () => 'img/other.0123456789ab.png' })).toThrow(TypeError)
  })

  describe('with a memory budget (retainBytes) and load()', () => {
    const cyclic = {
      ...tree,
      'css/cycle-a.css': '@import "cycle-b.css";\n.a{}',
      'css/cycle-b.css': '@import "cycle-a.css";\n.b{background:url(../img/logo.png)}',
      'js/lib.js': '//# sourceMappingURL=lib.js.map\nexport {}',
    }
    /** The same inputs given by load() only, counting the reads. */
    const loaded = (files: Record<string, string>, bytesOf = (name: string) => Buffer.from(files[name]!)) => {
      const loads = new Map<string, number>()
      const map = new Map(
        [...inputs(files)].map(([name, input]) => [
          name,
          {
            md5: input.md5,
            load: () => {
              loads.set(name, (loads.get(name) ?? 0) + 1)
              return bytesOf(name)
            },
          },
        ]),
      )
      return { map, loads }
    }

    it('plans the same names, hashes and integrity as with every byte in memory, keeping no content, each file read at most twice', () => {
      const whole = postProcess(inputs(cyclic))
      const { map, loads } = loaded(cyclic)
      const lean = postProcess(map, { retainBytes: 0 })
      expect(lean.warnings).toEqual(whole.warnings)
      expect(lean.cycles).toEqual(whole.cycles)
      for (const [name, f] of whole.files) {
        const g = lean.files.get(name)!
        expect([g.hashedName, g.md5, g.rewritten]).toEqual([f.hashedName, f.md5, f.rewritten])
        if (f.rewritten) expect(g.integrity).toBe(f.integrity)
        expect(g.content).toBeUndefined()
        // Made again on demand: the very bytes the full plan kept.
        expect(lean.content(name)?.toString()).toBe(f.content?.toString())
      }
      expect(whole.files.get('css/cycle-b.css')!.rewritten).toBe(true)
      for (const [name, n] of loads) if (!name.endsWith('.png')) expect(n, name).toBeLessThanOrEqual(4) // scan + plan, then content() twice above
    })

    it('keeps contents within the budget and makes the rest again', () => {
      const budget = 2 * Buffer.byteLength(cyclic['css/app.css']) // room for about one file
      const { map } = loaded(cyclic)
      const plan = postProcess(map, { retainBytes: budget })
      const kept = [...plan.files.values()].filter((f) => f.content)
      expect(kept.length).toBe(1)
      expect([...plan.files.values()].filter((f) => f.rewritten).length).toBeGreaterThan(1)
    })

    it('release() forgets kept contents and bytes; content() then makes the same bytes again with load()', () => {
      const { map, loads } = loaded(cyclic)
      // Given bytes too, as collectstatic gives the sources it kept since hashing.
      for (const [name, input] of map) (input as PostProcessInput).bytes = Buffer.from(cyclic[name as keyof typeof cyclic])
      const plan = postProcess(map)
      const before = plan.content('css/cycle-b.css')!
      expect(plan.files.get('css/cycle-b.css')!.content).toBe(before)
      expect(loads.get('css/cycle-b.css')).toBeUndefined()
      plan.release('css/cycle-b.css')
      expect(plan.files.get('css/cycle-b.css')!.content).toBeUndefined()
      expect(plan.files.get('css/cycle-b.css')!.hashedName).toMatch(/^css\/cycle-b\.[0-9a-f]{12}\.css$/)
      const again = plan.content('css/cycle-b.css')!
      expect(again.equals(before)).toBe(true)
      expect(loads.get('css/cycle-b.css')).toBe(1)
    })

    it('release() keeps what it could not make again: an input given bytes and no load()', () => {
      const plan = postProcess(inputs(cyclic))
      const kept = plan.files.get('css/cycle-b.css')!.content!
      plan.release('css/cycle-b.css')
      expect(plan.files.get('css/cycle-b.css')!.content).toBe(kept)
      expect(plan.content('css/cycle-b.css')).toBe(kept)
      plan.release('img/logo.png') // not CSS/JS: nothing kept, nothing to do
      plan.release('not/planned.css')
    })

    it('a source that changed since it was hashed is ECHANGED, during planning or when its content is made again', () => {
      const { map } = loaded(tree, (name) => Buffer.from(name === 'css/base.css' ? '.x{}' : tree[name as keyof typeof tree]))
      expect(() => postProcess(map, { retainBytes: 0 })).toThrow(expect.objectContaining({ code: 'ECHANGED', context: { name: 'css/base.css' } }))
      let edited = false
      const later = loaded(tree, (name) => Buffer.from(edited && name === 'css/app.css' ? '.edited{}' : tree[name as keyof typeof tree]))
      const plan = postProcess(later.map, { retainBytes: 0 })
      edited = true
      expect(() => plan.content('css/app.css')).toThrow(expect.objectContaining({ code: 'ECHANGED' }))
    })
  })
})
