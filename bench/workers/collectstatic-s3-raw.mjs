/**
 * The raw-SDK peer for a fresh manifest collectstatic to S3, with no Stowage
 * code: PUTs the objects such a collect stores (each original and its hashed
 * copy, the name carrying 12 hex digits of the file's MD5, as the local floor
 * names it) with `@aws-sdk/client-s3` and its defaults, at the concurrency
 * Stowage's collectstatic uses (32 requests in flight). No reference
 * rewriting, no manifest, no existence checks. Timed inside the process after
 * the client is made, as the other workers.
 *
 * Usage: node collectstatic-s3-raw.mjs '{"source": DIR, "s3": {bucket, region, endpoint, forcePathStyle, credentials, prefix}, "concurrency": 32}'
 * Prints one JSON line: {"times": {"fresh": s}, "objects": n, "usage": {"cpuSeconds": s, "maxRssMB": n}}.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The very SDK copy @stowage/s3 resolves, so the two differ by Stowage's own work only.
const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
const { S3Client, PutObjectCommand } = await import(createRequire(join(ROOT, 'packages', 's3', 'package.json')).resolve('@aws-sdk/client-s3'))

const { source, s3, concurrency = 32 } = JSON.parse(process.argv[2])
const { prefix, bucket, ...config } = s3
const client = new S3Client(config)

// What a hand-written deploy script would send: the type by extension.
const TYPES = {
  css: 'text/css',
  js: 'text/javascript',
  map: 'application/json',
  json: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  woff2: 'font/woff2',
  woff: 'font/woff',
  txt: 'text/plain',
}

const t0 = process.hrtime.bigint()
const names = []
const walk = async (rel) => {
  for (const e of await readdir(join(source, rel), { withFileTypes: true })) {
    const name = rel ? `${rel}/${e.name}` : e.name
    if (e.isDirectory()) await walk(name)
    else names.push(name)
  }
}
await walk('')

const put = (key, body) => {
  const ext = key.slice(key.lastIndexOf('.') + 1)
  return client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: body, ContentType: TYPES[ext] }))
}
let next = 0
let objects = 0
// Each of `concurrency` loops has one request in flight at a time.
const loop = async () => {
  while (next < names.length) {
    const name = names[next++]
    const bytes = await readFile(join(source, name))
    const md5 = createHash('md5').update(bytes).digest('hex').slice(0, 12)
    const dot = name.lastIndexOf('.')
    const hashed = dot > name.lastIndexOf('/') ? `${name.slice(0, dot)}.${md5}${name.slice(dot)}` : `${name}.${md5}`
    await put(name, bytes)
    await put(hashed, bytes)
    objects += 2
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, loop))
const fresh = Number(process.hrtime.bigint() - t0) / 1e9
client.destroy()
const u = process.resourceUsage()
console.log(JSON.stringify({ times: { fresh }, objects, usage: { cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMB: u.maxRSS / 1024 } }))
