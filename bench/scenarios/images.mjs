/**
 * Images: a 12-megapixel phone-style JPEG (Orientation 6, GPS in EXIF) stored
 * with its metadata stripped and orientation applied, plus three eager
 * variants — by Stowage (`imageField` + `images()` on local disk), by sharp
 * called directly (the floor: the same outputs with nothing around them) and
 * by Django + Pillow (Debian's python3-pil). Each run is a process of its own:
 * wall time (timed inside, start-up not counted), CPU time and peak RSS.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { median, rotate, runJson } from '../lib/measure.mjs'
import { PYTHON } from '../lib/peers.mjs'

const WORKER = fileURLToPath(new URL('../workers/images.mjs', import.meta.url))
const DJANGO = fileURLToPath(new URL('../django/images.py', import.meta.url))

/** The outputs every system makes; qualities explicit so each encoder is asked the same. */
export const VARIANTS = {
  thumb: { width: 160, height: 160, fit: 'cover', format: 'webp', quality: 80 },
  medium: { width: 800, format: 'jpeg', quality: 80 },
  large: { width: 1600, format: 'webp', quality: 80 },
}
const ORIGINAL_QUALITY = 90

/**
 * Writes the input once: 4000×3000 (12 MP), a smooth gradient with sensor-like
 * noise so it compresses as a photo does (a few MB at quality 92), lying on its
 * side (Orientation 6) with GPS and a camera serial in its EXIF.
 * @returns its path.
 */
async function photo(dir) {
  const file = join(dir, 'photo-12mp.jpg')
  if (existsSync(file)) return file
  const width = 4000
  const height = 3000
  const raw = Buffer.alloc(width * height * 3)
  let seed = 12345
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      const n = (seed >> 16) % 24
      const i = (y * width + x) * 3
      raw[i] = Math.min(255, ((x * 255) / width + n) | 0)
      raw[i + 1] = Math.min(255, ((y * 255) / height + n) | 0)
      raw[i + 2] = Math.min(255, (((x + y) * 128) / (width + height) + 64 + n) | 0)
    }
  }
  await mkdir(dir, { recursive: true })
  await sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 92 })
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: 'Phone', Model: 'Camera 12' },
      IFD2: { BodySerialNumber: 'SN-0001' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    })
    .toFile(file)
  return file
}

export async function run({ quick, repeats, workDir, log }) {
  const input = await photo(join(workDir, 'images'))
  const peers = ['stowage', 'sharp', 'pillow']
  const res = {}
  const cpu = {}
  const rss = {}
  const reps = quick ? 1 : Math.max(repeats, 3)
  for (let r = 0; r < reps; r++) {
    for (const peer of rotate(peers, r)) {
      log(`images 12 MP repeat ${r + 1}/${reps}: ${peer}`)
      const dir = await mkdtemp(join(workDir, `img-${peer}-`))
      try {
        const job = JSON.stringify({ peer, input, dir, variants: VARIANTS, quality: ORIGINAL_QUALITY })
        const out = peer === 'pillow' ? await runJson(PYTHON, [DJANGO, job]) : await runJson(process.execPath, [WORKER, job])
        ;(res[peer] ??= []).push(out.seconds)
        ;(cpu[peer] ??= []).push(out.cpuSeconds)
        rss[peer] = Math.max(rss[peer] ?? 0, out.peakRssMB)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    }
  }
  return [
    {
      scenario: 'images (local)',
      case: '12 MP JPEG → upright, no EXIF + 3 variants',
      caseId: 'images-12mp-eager',
      work: { ops: 1, unit: 'images' },
      peers: res,
      rss,
      notes: [
        'variants: 160×160 cover WebP, 800 w JPEG, 1600 w WebP (q80); original re-encoded at q90',
        // Wall time on a shared 2-core machine is noisy; CPU time is not, and tells whether the work is the same.
        `CPU seconds, median: ${Object.entries(cpu)
          .map(([p, v]) => `${p} ${median(v).toFixed(2)}`)
          .join(', ')}`,
      ],
    },
  ]
}
