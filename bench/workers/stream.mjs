/**
 * Scenario 4 worker: saves one large generated stream and reads it back, in
 * a process of its own so `maxRSS` is the peak of this work alone.
 *
 * Usage: node stream.mjs JSON_ARGS
 *   {"peer": "stowage"|"raw"|"flydrive"|"flystorage", "backend": "local"|"s3", "size": bytes, "dir": DIR, "s3": env}
 * Prints {"save": s, "read": s, "bytes": n, "peakRssMB": n, "startRssMB": n}.
 */
import { Readable } from 'node:stream'
import { localPeers, s3Peers } from '../lib/adapters.mjs'
import { filler } from '../lib/measure.mjs'

const args = JSON.parse(process.argv[2])
const CHUNK = 64 * 1024
const block = filler(1024 * 1024, 11)

// A source that never holds more than one 64 KiB chunk: the measured peak is
// the storage's, not the generator's.
function source(size) {
  let sent = 0
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (sent >= size) return this.push(null)
      const n = Math.min(CHUNK, size - sent)
      const off = sent % block.length
      this.push(Buffer.from(block.subarray(off, Math.min(off + n, block.length))))
      sent += Math.min(n, block.length - off)
    },
  })
}

const startRssMB = process.memoryUsage().rss / 1048576
const peer = args.backend === 'local' ? await localPeers[args.peer](args.dir) : await s3Peers[args.peer](args.s3, args.s3.prefix)
const t0 = process.hrtime.bigint()
const name = await peer.saveStream('big.bin', source(args.size), args.size)
const t1 = process.hrtime.bigint()
const savePeakRssMB = process.resourceUsage().maxRSS / 1024
const bytes = await peer.openStream(name)
const t2 = process.hrtime.bigint()
if (bytes !== args.size) throw new Error(`read back ${bytes} bytes of ${args.size}`)
peer.close?.()
console.log(JSON.stringify({
  save: Number(t1 - t0) / 1e9,
  read: Number(t2 - t1) / 1e9,
  bytes,
  startRssMB,
  savePeakRssMB,
  peakRssMB: process.resourceUsage().maxRSS / 1024,
}))
