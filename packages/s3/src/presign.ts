/**
 * Presigned GET URLs signed here, with SigV4 query strings and a signing key
 * cached per day, region and service, instead of through the SDK's
 * `getSignedUrl`, which builds and runs a middleware stack and resolves the
 * endpoint for every URL (about 1 ms of CPU each; boto3 needs a fifth of it).
 *
 * Exactness comes from the SDK itself: `createGetPresigner` asks the SDK once
 * for a URL of a probe key, learns from it where objects live (origin, path
 * prefix, signing region and service), then signs the same probe itself and
 * compares. Any difference (a client middleware that adds a parameter, an
 * S3 Express bucket with session tokens, a SigV4a access point, a newer SDK
 * that signs differently) disables the fast path and callers keep using
 * `getSignedUrl`, so a URL from here is always the one the SDK would make.
 */
import { createHash, createHmac } from 'node:crypto'
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'

/** The credentials a presigned URL is signed with. */
export interface SigningCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

/** Where the objects of one bucket live, as the SDK resolved it. */
export interface PresignTarget {
  /** `https://bucket.s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:7480`. */
  origin: string
  /** The `Host` header the URL is signed for (the origin's host, with a non-default port). */
  host: string
  /** Percent-encoded path up to the key, ending in `/` (`/bucket/` for path-style URLs, `/` for virtual-hosted). */
  pathPrefix: string
  /** Region in the credential scope. */
  region: string
  /** Service in the credential scope (`s3`). */
  service: string
}

/** What one URL needs besides the key. */
export interface PresignGetOptions {
  credentials: SigningCredentials
  /** Seconds the URL stays valid; written as given (SigV4 allows at most 604800). */
  expiresIn: number
  /** Signing time (whole seconds count). */
  signingDate: Date
  /** `response-content-disposition` override, signed into the URL. */
  responseContentDisposition?: string
}

const ALGORITHM = 'AWS4-HMAC-SHA256'
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'
const PROBE_KEY = 'stowage-presign-probe/ü +~!*().txt'
const PROBE_DISPOSITION = `attachment; filename="a b.txt"; filename*=UTF-8''a%20b.txt`

/**
 * RFC 3986 escaping as SigV4 and the SDK's URI serializer do it: everything
 * but `A-Z a-z 0-9 - _ . ~` is percent-encoded (`encodeURIComponent` leaves
 * `! ' ( ) *` alone, so those are added).
 * @throws URIError for a string with a lone surrogate (as the SDK does).
 */
export function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** @returns the key as a URL path: each `/`-separated segment escaped, the slashes kept. */
export function escapeKey(key: string): string {
  return key.split('/').map(escapeUri).join('/')
}

/**
 * Signs GET URLs for one bucket. The signing key (four chained HMACs of the
 * secret) changes only with the day, region, service and secret, so it is
 * derived once and reused; a URL then costs one SHA-256 and one HMAC.
 */
export class GetPresigner {
  private cached: { secret: string; day: string; key: Buffer } | undefined

  constructor(readonly target: PresignTarget) {}

  /**
   * @returns the presigned GET URL of `key` (not yet escaped), byte for byte
   *   what `getSignedUrl(client, new GetObjectCommand(...))` returns for the same inputs.
   */
  presign(key: string, options: PresignGetOptions): string {
    const { origin, host, pathPrefix, region, service } = this.target
    const { credentials, responseContentDisposition } = options
    const longDate = options.signingDate
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/[-:]/g, '')
    const day = longDate.slice(0, 8)
    const scope = `${day}/${region}/${service}/aws4_request`
    const path = pathPrefix + escapeKey(key)
    // Parameters in code-point order of their names, as SigV4's canonical
    // query and the SDK's URL both list them; the signature goes in its place.
    let before =
      `X-Amz-Algorithm=${ALGORITHM}&X-Amz-Content-Sha256=${UNSIGNED_PAYLOAD}` +
      `&X-Amz-Credential=${escapeUri(`${credentials.accessKeyId}/${scope}`)}` +
      `&X-Amz-Date=${longDate}&X-Amz-Expires=${escapeUri(String(options.expiresIn))}`
    if (credentials.sessionToken) before += `&X-Amz-Security-Token=${escapeUri(credentials.sessionToken)}`
    let after = 'X-Amz-SignedHeaders=host'
    if (responseContentDisposition !== undefined) after += `&response-content-disposition=${escapeUri(responseContentDisposition)}`
    after += '&x-id=GetObject'
    const canonicalRequest = `GET\n${path}\n${before}&${after}\nhost:${host}\n\nhost\n${UNSIGNED_PAYLOAD}`
    const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`
    const signature = createHmac('sha256', this.signingKey(credentials.secretAccessKey, day)).update(stringToSign).digest('hex')
    return `${origin}${path}?${before}&X-Amz-Signature=${signature}&${after}`
  }

  private signingKey(secret: string, day: string): Buffer {
    const c = this.cached
    if (c && c.day === day && c.secret === secret) return c.key
    const { region, service } = this.target
    let key = hmac(`AWS4${secret}`, day)
    for (const part of [region, service, 'aws4_request']) key = hmac(key, part)
    this.cached = { secret, day, key }
    return key
  }
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest()
}

/**
 * Learns where `bucket`'s objects live from one URL the SDK presigns with
 * `client`, then checks that `GetPresigner` makes the very same URL.
 * @returns a presigner, or `undefined` when the SDK's URL has a shape this
 *   module does not reproduce (then keep using `getSignedUrl`).
 * @throws whatever the SDK throws for the probe (no credentials, no region).
 */
export async function createGetPresigner(client: S3Client, bucket: string): Promise<GetPresigner | undefined> {
  const signingDate = new Date(Math.floor(Date.now() / 1000) * 1000)
  const expiresIn = 60
  const credentials = await client.config.credentials()
  const expected = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: PROBE_KEY, ResponseContentDisposition: PROBE_DISPOSITION }), {
    expiresIn,
    signingDate,
  })
  const target = targetOf(expected)
  if (!target) return undefined
  const presigner = new GetPresigner(target)
  const ours = presigner.presign(PROBE_KEY, { credentials, expiresIn, signingDate, responseContentDisposition: PROBE_DISPOSITION })
  return ours === expected ? presigner : undefined
}

/** @returns origin, host, path prefix and credential scope of a presigned probe URL, or undefined when it has another shape. */
function targetOf(url: string): PresignTarget | undefined {
  const m = /^(https?:\/\/([^/?#]+))(\/[^?#]*)\?([^#]*)$/.exec(url)
  if (!m) return undefined
  const [, origin, host, path, query] = m as unknown as [string, string, string, string, string]
  const escaped = escapeKey(PROBE_KEY)
  if (!path.endsWith(`/${escaped}`)) return undefined
  const credential = /(?:^|&)X-Amz-Credential=([^&]*)/.exec(query)?.[1]
  const scope = credential && decodeURIComponent(credential).split('/')
  // accessKeyId / day / region / service / aws4_request
  if (!scope || scope.length !== 5 || scope[4] !== 'aws4_request') return undefined
  return { origin, host, pathPrefix: path.slice(0, path.length - escaped.length), region: scope[2]!, service: scope[3]! }
}
