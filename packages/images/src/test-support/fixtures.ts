/**
 * Images the tests upload, made with sharp so no binary fixture is checked
 * in: a phone-style JPEG that carries GPS coordinates and an `Orientation`
 * tag, an animated GIF, and a reader for the one EXIF fact the tests check.
 */
import sharp from 'sharp'

/**
 * A 40×20 JPEG, left half red and right half blue, tagged `Orientation: 6`
 * (display rotated 90° clockwise: upright it is 20×40, red on top), with GPS
 * coordinates and a camera serial in its EXIF.
 */
export async function phonePhoto(width = 40, height = 20): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw[(y * width + x) * 3 + (x < width / 2 ? 0 : 2)] = 255
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .withExif({
      IFD0: { Make: 'Phone', Model: 'Camera 1' },
      IFD2: { BodySerialNumber: 'SN-12345' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    })
    .toBuffer()
}

/** A 10×10 GIF of `frames` frames, each a different colour. */
export async function animatedGif(frames = 3): Promise<Buffer> {
  const raw = Buffer.alloc(10 * 10 * frames * 4)
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < 100; i++) raw.set([f % 3 === 0 ? 255 : 0, f % 3 === 1 ? 255 : 0, f % 3 === 2 ? 255 : 0, 255], (f * 100 + i) * 4)
  }
  return sharp(raw, { raw: { width: 10, height: 10 * frames, channels: 4, pageHeight: 10 } })
    .gif()
    .toBuffer()
}

/**
 * Whether an EXIF block (as sharp's `metadata().exif` gives it: `Exif\0\0`
 * then a TIFF structure) has a GPS directory pointer (tag 0x8825) in IFD0.
 */
export function exifHasGps(exif: Buffer | undefined): boolean {
  if (!exif) return false
  const tiff = exif.subarray(exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? 6 : 0)
  const le = tiff.subarray(0, 2).toString('latin1') === 'II'
  const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o))
  const u32 = (o: number) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o))
  const ifd0 = u32(4)
  const count = u16(ifd0)
  for (let i = 0; i < count; i++) if (u16(ifd0 + 2 + i * 12) === 0x8825) return true
  return false
}

/** The RGB of the pixel at (x, y) of an encoded image. */
export async function pixel(image: Uint8Array, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const i = (y * info.width + x) * info.channels
  return [data[i]!, data[i + 1]!, data[i + 2]!]
}
