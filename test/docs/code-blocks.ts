/**
 * The code blocks of a Markdown file, as the doc tests run them.
 *
 * Conventions, all visible in the rendered README:
 * - A block whose first line is `// name.ext` is that file of the reader's
 *   project (`// stowage.config.js`, `// server.ts`); later `sh` blocks of the
 *   same `##` section run it (`node app.js`, `npx tsx server.ts`).
 * - Other `ts`/`js` blocks are run as they are; `sh` blocks are run by bash
 *   in the section's project directory, one shell per section, as a reader
 *   pastes them into one terminal; `json` blocks are parsed.
 * - A block that cannot run is preceded by a line of its own in italics:
 *   `*Not run by the doc tests: <why>.*`, or
 *   `*Run as written by \`<test file>\`: <how>.*` when another test runs it.
 */

/** Why a block is not run here. */
export interface BlockMarker {
  kind: 'not-run' | 'elsewhere'
  reason: string
  /** For `elsewhere`: the test file that runs it, relative to the repository root. */
  path?: string
}

/** One fenced code block. */
export interface CodeBlock {
  /** The Markdown file, relative to the repository root. */
  file: string
  /** Line of the opening fence, 1-based. */
  line: number
  /** The fence's language (`ts`, `sh`, ...), `''` when none. */
  lang: string
  code: string
  /** The `##` heading the block is under (`''` before the first one). */
  section: string
  /** The file the block is, from a `// name.ext` first line. */
  name?: string
  marker?: BlockMarker
}

const FENCE = /^(\s*)(```+|~~~+)\s*([\w+-]*)/
const MARKER = /^\*(?:Not run by the doc tests: (.+?)|Run as written by `([^`]+)`: (.+?))\.?\*$/
const NAME = /^\/\/ ([\w.-]+\.(?:[cm]?[jt]s|json))\s*$/

/** @returns the marker line's meaning, or undefined when `line` is not a marker. */
export function parseMarker(line: string): BlockMarker | undefined {
  const m = MARKER.exec(line.trim())
  if (!m) return undefined
  if (m[1] !== undefined) return { kind: 'not-run', reason: m[1] }
  return { kind: 'elsewhere', path: m[2]!, reason: m[3]! }
}

/**
 * @returns every fenced block of `markdown`, in order.
 * @throws Error for a fence that is never closed.
 */
export function extractBlocks(markdown: string, file: string): CodeBlock[] {
  const lines = markdown.split('\n')
  const blocks: CodeBlock[] = []
  let section = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const heading = /^## (.+)$/.exec(line)
    if (heading) section = heading[1]!.trim()
    const fence = FENCE.exec(line)
    if (!fence) continue
    const [, indent, ticks, lang] = fence
    let end = i + 1
    while (end < lines.length && !lines[end]!.trimStart().startsWith(ticks!)) end++
    if (end >= lines.length) throw new Error(`${file}:${i + 1}: code block never closed`)
    const code = lines
      .slice(i + 1, end)
      .map((l) => (l.startsWith(indent!) ? l.slice(indent!.length) : l))
      .join('\n')
    let before = i - 1
    while (before >= 0 && lines[before]!.trim() === '') before--
    const marker = before >= 0 ? parseMarker(lines[before]!) : undefined
    const name = NAME.exec(code.split('\n')[0] ?? '')?.[1]
    blocks.push({ file, line: i + 1, lang: lang ?? '', code, section, ...(name && { name }), ...(marker && { marker }) })
    i = end
  }
  return blocks
}
