// A tour of the storage contract on the local-disk default: save (with
// Django's collision-safe naming), list, URL, read a range, delete.
// Run with `npm run demo` (builds the packages first).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { storages, SuspiciousFileOperationError } from '@stowage/core'

const location = await mkdtemp(path.join(tmpdir(), 'stowage-demo-'))
await storages.configure({
  storages: { default: { backend: 'local', options: { location, baseUrl: '/media/', signingSecret: 'demo-secret-not-for-production' } } },
})
const media = storages.get('default')

const first = await media.save('reports/q1 summary.txt', 'Revenue is up.\n')
const second = await media.save('reports/q1 summary.txt', 'A second upload with the same name.\n')
console.log('saved        ', first)
console.log('saved again  ', second, '(never overwritten: a random suffix was added)')
console.log('listdir      ', await media.listdir('reports'))
console.log('url          ', await media.url(first))
console.log('signed url   ', await media.url(first, { expiresIn: 300, download: 'summary.txt' }))
console.log('size         ', await media.size(first), 'bytes')
console.log(
  'bytes 0..6   ',
  JSON.stringify(
    Buffer.from(await media.read(first))
      .subarray(0, 7)
      .toString(),
  ),
)
try {
  await media.save('../../etc/passwd', 'x')
} catch (err) {
  console.log('refused      ', err instanceof SuspiciousFileOperationError, err.code, err.message)
}
await media.delete(first)
await media.delete(second)
console.log('after delete ', await media.listdir('reports'))
await rm(location, { recursive: true, force: true })
