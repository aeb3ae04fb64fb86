import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const INDEX = fileURLToPath(new URL('./index.ts', import.meta.url))
// NODE_DEBUG is read when a process starts, so each case is a process of its own.
const SCRIPT = `
  const { MemoryStorage } = await import(${JSON.stringify(INDEX)})
  const s = new MemoryStorage()
  await s.save('a.txt', 'x')
  await s.save('a.txt', 'y')
  await s.read('missing.txt').catch(() => {})
`

async function stderrWith(nodeDebug: string | undefined): Promise<string> {
  const env = { ...process.env, NODE_DEBUG: nodeDebug ?? '' }
  const { stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { env })
  return stderr
}

describe('NODE_DEBUG=stowage', () => {
  it('traces each operation with its backend, name, outcome and time', async () => {
    const err = await stderrWith('stowage')
    expect(err).toMatch(/STOWAGE \d+: MemoryStorage save "a\.txt" ok \(0 lost claims\) [\d.]+ms/)
    expect(err).toMatch(/STOWAGE \d+: MemoryStorage save "a\.txt -> a_[A-Za-z0-9]{7}\.txt" ok/)
    expect(err).toMatch(/STOWAGE \d+: MemoryStorage read "missing\.txt" ENOENT [\d.]+ms/)
  })

  it('prints nothing without it', async () => {
    expect(await stderrWith(undefined)).not.toContain('STOWAGE')
  })
})
