/**
 * Images worker: one 12-megapixel phone-style JPEG (EXIF orientation and GPS)
 * stored the way an upload is: the original upright without metadata, plus
 * three variants. In a process of its own so `maxRSS` is this job's peak.
 *
 * Usage: node images.mjs JSON_ARGS
 *   {"peer": "stowage"|"sharp", "input": path, "dir": output directory, "variants": {...}, "quality": original's quality}
 * Prints {"seconds": s, "cpuSeconds": user + system, "peakRssMB": n, "files": [names written], "bytes": total written}.
 *
 * stowage: imageField + images() on FileSystemStorage, the upload streamed from disk.
 * sharp:   the floor — sharp called directly, the same four outputs written with toFile().
 */
import { createReadStream } from 'node:fs'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import sharp from 'sharp'
import { imageField } from '@stowage/core'
import { FileSystemStorage } from '@stowage/local'
import { images } from '@stowage/images'

const args = JSON.parse(process.argv[2])

async function stowage() {
  const storage = new FileSystemStorage({ location: args.dir, baseUrl: '/media/' })
  const field = imageField({ storage, column: 'photo', uploadTo: 'photos/', processor: images({ variants: args.variants, quality: args.quality }) })
  await field.bind({}).save('photo.jpg', createReadStream(args.input))
}

async function floor() {
  const input = await readFile(args.input)
  const ext = { jpeg: 'jpg', webp: 'webp', png: 'png', avif: 'avif' }
  await Promise.all([
    sharp(input, { autoOrient: true }).jpeg({ quality: args.quality }).toFile(join(args.dir, 'photo.jpg')),
    ...Object.entries(args.variants).map(([name, v]) =>
      sharp(input, { autoOrient: true })
        .resize({ width: v.width, height: v.height, fit: v.fit ?? 'inside', withoutEnlargement: true })
        .toFormat(v.format, { quality: v.quality })
        .toFile(join(args.dir, `${name}.${ext[v.format]}`)),
    ),
  ])
}

const t0 = process.hrtime.bigint()
const cpu0 = process.cpuUsage()
await (args.peer === 'stowage' ? stowage() : floor())
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
const cpu = process.cpuUsage(cpu0)
const cpuSeconds = (cpu.user + cpu.system) / 1e6
const files = (await readdir(args.dir, { recursive: true, withFileTypes: true }))
  .filter((e) => e.isFile())
  .map((e) => relative(args.dir, join(e.parentPath, e.name)))
let bytes = 0
for (const f of files) bytes += (await stat(join(args.dir, f))).size
console.log(JSON.stringify({ seconds, cpuSeconds, peakRssMB: process.resourceUsage().maxRSS / 1024, files: files.sort(), bytes }))
