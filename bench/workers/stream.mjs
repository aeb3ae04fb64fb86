/**
 * Scenario 4 worker: saves one large generated stream (`op: save`) or reads it
 * back (`op: read`), each in a process of its own so `maxRSS` is the peak of
 * that one operation.
 *
 * Usage: node stream.mjs JSON_ARGS
 *   {"op": "save"|"read", "peer": "stowage"|"raw"|"flydrive"|"flystorage", "backend": "local"|"s3",
 *    "size": bytes, "name": stored name (read), "dir": DIR, "s3": env}
 * Prints {"seconds": s, "name": stored name, "peakRssMB": n, "startRssMB": n, "readyRssMB": n}:
 * RSS at start, once the system is loaded and set up (the floor before the
 * first byte), and at its peak.
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
const readyRssMB = process.memoryUsage().rss / 1048576
const t0 = process.hrtime.bigint()
let name = args.name
if (args.op === 'save') name = await peer.saveStream('big.bin', source(args.size), args.size)
else {
  const bytes = await peer.openStream(name)
  if (bytes !== args.size) throw new Error(`read back ${bytes} bytes of ${args.size}`)
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
peer.close?.()
console.log(JSON.stringify({ seconds, name, startRssMB, readyRssMB, peakRssMB: process.resourceUsage().maxRSS / 1024 }))
