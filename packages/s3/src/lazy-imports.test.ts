import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const INDEX = fileURLToPath(new URL('./index.ts', import.meta.url))
// What a process has loaded is only visible from a fresh one: the test
// workers share their module cache between files.
const SCRIPT = `
  import { createRequire } from 'node:module'
  const { S3Storage } = await import(${JSON.stringify(INDEX)})
  const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('s3-presigned-post'))
  const s = new S3Storage({ bucket: 'b', region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 's' } })
  const atStart = loaded()
  await s.presignPost('a.png', { maxSize: 1000 })
  console.log(JSON.stringify({ atStart, afterPost: loaded() }))
`

describe('@stowage/s3 module loading', () => {
  it('loads @aws-sdk/s3-presigned-post (a second copy of client-s3, ~5 MB of RSS) only when a POST is signed', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=stowage-source', '--import', 'tsx', '--input-type=module', '-e', SCRIPT])
    // afterPost proves the check sees the package once it is loaded.
    expect(JSON.parse(stdout)).toEqual({ atStart: false, afterPost: true })
  })
})
