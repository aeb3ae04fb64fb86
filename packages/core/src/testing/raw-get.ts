import { request } from 'node:http'

/**
 * Sends a GET with the request path exactly as given, for testing how a
 * server decodes paths: `fetch()` would resolve `..` and `./` and re-encode
 * before sending, so the hostile spellings of `hostileRequestPaths()` would
 * never reach the server.
 * @returns the status and the body as UTF-8 text.
 * @throws the socket's error when the server cannot be reached; TypeError
 *   (`ERR_UNESCAPED_CHARACTERS`) for a path Node will not send (a space, a control character).
 */
export function rawGet(base: string, rawPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/`, { path: rawPath }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}
