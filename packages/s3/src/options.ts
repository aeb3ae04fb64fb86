/**
 * `S3StorageOptions` and the provider profiles that pick safe defaults for
 * each kind of server. Resolution happens once, in the constructor, so a bad
 * option fails at start with a `ConfigurationError` naming the key.
 */
import { MIMEType } from 'node:util'
import type { ObjectCannedACL, PutObjectCommandInput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import {
  checkOptionNames,
  checkOptionValues,
  ConfigurationError,
  didYouMean,
  PENDING_PREFIX,
  safeDir,
  type BaseStorageOptions,
  type OptionKind,
} from '@stowage/core'

/**
 * The kind of server behind the endpoint. Each profile sets defaults for the
 * options below that differ between servers; an explicit option always wins.
 *
 * - `aws`: virtual-hosted URLs, the SDK's flexible checksums (`WHEN_SUPPORTED`).
 * - `minio`, `ceph`, `r2`, `generic`: path-style URLs and checksums only where
 *   an operation requires them (`WHEN_REQUIRED`), because these servers reject
 *   or mishandle the CRC32 trailers that newer SDKs add to every upload.
 */
export type S3Provider = 'aws' | 'minio' | 'ceph' | 'r2' | 'generic'

/** The SDK's checksum settings (`@aws-sdk/client-s3` 3.729 and newer). */
export type ChecksumMode = 'WHEN_SUPPORTED' | 'WHEN_REQUIRED'

/** Per-object headers applied to every upload (Django-storages' `object_parameters`). */
export type ObjectParameters = Pick<
  PutObjectCommandInput,
  | 'CacheControl'
  | 'ContentDisposition'
  | 'ContentEncoding'
  | 'ContentLanguage'
  | 'Expires'
  | 'Metadata'
  | 'StorageClass'
  | 'ServerSideEncryption'
  | 'SSEKMSKeyId'
  | 'Tagging'
>

/** Options for `new S3Storage(...)`. Only `bucket` is required. */
export interface S3StorageOptions extends BaseStorageOptions {
  /** Bucket name. */
  bucket: string
  /**
   * Region. Default with `endpoint`: the provider's (`auto` for R2, else `us-east-1`). Default without
   * it: the SDK's chain (`AWS_REGION`, `~/.aws/config`); when that finds none, requests fail with a
   * ConfigurationError naming `region`.
   */
  region?: string
  /** Server URL for S3-compatible stores, e.g. `http://127.0.0.1:9000`. Absent for AWS. */
  endpoint?: string
  /** Path-style URLs (`endpoint/bucket/key`). Default: false without `endpoint`; with it, the provider's (true but for `aws`). */
  forcePathStyle?: boolean
  /** Static keys or a provider; absent: the SDK's default chain (env, profile, IMDS, ...). */
  credentials?: S3ClientConfig['credentials']
  /** Key prefix all names live under (`media` → `media/avatars/a.png`). */
  location?: string
  /** Server profile; default `aws` without `endpoint`, `generic` with one. */
  provider?: S3Provider
  /**
   * Canned ACL sent with every upload. Default: none, so objects are private
   * (or whatever the bucket's policy says). Buckets with "ACLs disabled" (the
   * AWS default since 2023) refuse any ACL but `bucket-owner-full-control`.
   */
  defaultAcl?: ObjectCannedACL
  /** `url()` returns presigned, expiring URLs. Default true (private media). `customDomain` URLs are plain whatever this says, so `true` with it is refused. */
  querystringAuth?: boolean
  /** Default lifetime of presigned URLs, in seconds. Default 3600; at most 604800 (7 days, SigV4's limit). */
  expiresIn?: number
  /** Host (and optional path) of a CDN serving the bucket publicly, e.g. `cdn.example.com`. `url()` then returns plain URLs on it. */
  customDomain?: string
  /** Scheme for `customDomain` URLs. Default `https:`. */
  urlProtocol?: 'https:' | 'http:'
  /** Headers applied to every upload, or a function of the name giving them. A name `ObjectParameters` does not list, or a value of the wrong type, is refused. */
  objectParameters?: ObjectParameters | ((name: string) => ObjectParameters)
  /** Bodies larger than this (bytes) go through multipart upload. Default 8 MiB; at least 5 MiB. */
  multipartThreshold?: number
  /**
   * Multipart part size in bytes. Default 5 MiB (S3's minimum, and the least
   * memory for streams), or 8 MiB where `uniformParts` is on (`r2`,
   * `generic`); at least 5 MiB; raised as needed to fit 10,000 parts, and
   * for streams of unknown length doubled after the first 1,000 parts as the
   * stream grows (so they reach 5 TiB) unless `uniformParts` is on.
   */
  partSize?: number
  /**
   * Every part of a multipart upload but the last has the same size. R2 and
   * some other S3-compatible servers refuse parts of different sizes
   * (`InvalidPart: All non-trailing parts must have the same length`), so a
   * stream of unknown length then keeps `partSize` parts throughout and can
   * be at most 10,000 × `partSize` long. Default: true for `provider: 'r2'`
   * and `'generic'` (whose partSize default is 8 MiB, a 78 GiB stream), false
   * for `aws`, `minio` and `ceph`, which accept growing parts.
   */
  uniformParts?: boolean
  /** Parts uploaded at once per multipart upload. Default 4. Memory used ≈ `queueSize × partSize`. */
  queueSize?: number
  /**
   * Whether the server honours `If-None-Match: *` on PutObject (AWS since
   * 2024-08, MinIO, R2, Ceph RGW). When true, names are claimed atomically and
   * concurrent saves of one name never overwrite each other. When false the
   * claim degrades to check-then-write, which can lose a race. Default true.
   */
  conditionalWrites?: boolean
  /** See `ChecksumMode`. Default from `provider`. */
  requestChecksumCalculation?: ChecksumMode
  /** See `ChecksumMode`. Default from `provider`. */
  responseChecksumValidation?: ChecksumMode
  /** Keys per ListObjectsV2 page in `listdir`. Default 1000 (S3's maximum). */
  listPageSize?: number
  /**
   * Milliseconds to wait for a TCP connection to the server. Default 10,000.
   * The SDK waits forever by default; a black-holed endpoint would hang saves.
   */
  connectionTimeout?: number
  /** Milliseconds a socket may sit idle mid-request before the request fails (and is retried). Default 60,000. */
  socketTimeout?: number
  /** Attempts per request, the first included (the SDK's retry limit). Default 3. */
  maxAttempts?: number
  /** Concurrent connections to the server. Default 128 (the SDK's 50 queues bursts of small saves). */
  maxSockets?: number
  /**
   * Extra S3Client configuration (logger, a request handler of your own...). It overrides the
   * transport options above (`maxAttempts`, and a `requestHandler` replaces `connectionTimeout`,
   * `socketTimeout` and `maxSockets`); `endpoint`, `forcePathStyle` and the checksum settings
   * always come from the options above, and its `credentials` and `region` are used only when
   * those options are absent (its `region` only without `endpoint`).
   */
  clientConfig?: S3ClientConfig
  /** Use this client instead of building one (the options above that configure a client are then ignored). */
  client?: S3Client
  /**
   * Storage-name prefix under which browsers upload before `confirmUpload`
   * (under `location`). Default `.stowage-pending`. Give the bucket a
   * lifecycle rule that expires objects under it after a day.
   */
  pendingPrefix?: string
  /** Default lifetime of `presignPost` forms and `presignPut` URLs, in seconds. Default 600; at most 604800. */
  uploadExpiresIn?: number
  /**
   * Active types (HTML, SVG, XML, JavaScript, CSS, anything unrecognised) are
   * stored with `Content-Disposition: attachment` and their presigned URLs
   * force it, so the bucket never runs them as pages on its origin. List
   * MIME types here to deliver them inline anyway (e.g. `['text/html']` for a
   * bucket that hosts a static site). Default: none.
   */
  inlineTypes?: string[]
  /** Clock used as the signing time of presigned URLs and POST policies; inject one in tests. */
  now?: () => Date
  /**
   * The configuration alias this storage was built for. Set by configuration
   * (not in the config file), so errors found later (a missing bucket, no
   * credentials) name `storages.<alias>.options.<key>` and `STOWAGE_<ALIAS>_<KEY>`.
   */
  alias?: string
}

/** Options after defaults and validation. */
export interface ResolvedS3Options {
  bucket: string
  region: string | undefined
  endpoint: string | undefined
  forcePathStyle: boolean
  provider: S3Provider
  location: string
  defaultAcl: ObjectCannedACL | undefined
  querystringAuth: boolean
  expiresIn: number
  customDomain: string | undefined
  urlProtocol: 'https:' | 'http:'
  objectParameters: (name: string) => ObjectParameters
  multipartThreshold: number
  partSize: number
  uniformParts: boolean
  queueSize: number
  conditionalWrites: boolean
  listPageSize: number
  connectionTimeout: number
  socketTimeout: number
  maxAttempts: number
  maxSockets: number
  requestChecksumCalculation: ChecksumMode
  responseChecksumValidation: ChecksumMode
  now: () => Date
  pendingPrefix: string
  uploadExpiresIn: number
  inlineTypes: ReadonlySet<string>
  alias: string | undefined
}

/** S3's smallest allowed part (except the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024
/** S3's largest allowed part. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
/** S3's limit on parts per upload. */
export const MAX_PARTS = 10_000
/** SigV4 presigned URLs live at most 7 days. */
export const MAX_EXPIRES_IN = 7 * 24 * 3600
const MIB = 1024 * 1024

// `uniformParts`: whether the server needs every non-trailing part the same
// size (R2 does; an unknown server may); such servers keep 8 MiB parts, so a
// stream of unknown length may still be 78 GiB long.
const PROFILES: Record<S3Provider, { forcePathStyle: boolean; checksums: ChecksumMode; region: string; uniformParts: boolean }> = {
  aws: { forcePathStyle: false, checksums: 'WHEN_SUPPORTED', region: 'us-east-1', uniformParts: false },
  minio: { forcePathStyle: true, checksums: 'WHEN_REQUIRED', region: 'us-east-1', uniformParts: false },
  ceph: { forcePathStyle: true, checksums: 'WHEN_REQUIRED', region: 'us-east-1', uniformParts: false },
  r2: { forcePathStyle: true, checksums: 'WHEN_REQUIRED', region: 'auto', uniformParts: true },
  generic: { forcePathStyle: true, checksums: 'WHEN_REQUIRED', region: 'us-east-1', uniformParts: true },
}

/** S3's canned ACLs. */
const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const

/**
 * Every option `S3Storage` takes from configuration, with its kind (how it is
 * checked and read from a `STOWAGE_<ALIAS>_<OPTION>` variable); anything
 * else is refused. `alias` is not here: configuration sets it.
 */
export const S3_STORAGE_OPTIONS: { readonly [K in Exclude<keyof S3StorageOptions, 'alias'>]-?: OptionKind } = {
  bucket: 'string',
  region: 'string',
  endpoint: 'string',
  forcePathStyle: 'boolean',
  credentials: 'object',
  location: 'string',
  provider: ['aws', 'minio', 'ceph', 'r2', 'generic'],
  defaultAcl: CANNED_ACLS,
  querystringAuth: 'boolean',
  expiresIn: 'integer',
  customDomain: 'string',
  urlProtocol: ['https:', 'http:'],
  objectParameters: 'object',
  multipartThreshold: 'integer',
  partSize: 'integer',
  uniformParts: 'boolean',
  queueSize: 'integer',
  conditionalWrites: 'boolean',
  requestChecksumCalculation: ['WHEN_SUPPORTED', 'WHEN_REQUIRED'],
  responseChecksumValidation: ['WHEN_SUPPORTED', 'WHEN_REQUIRED'],
  listPageSize: 'integer',
  connectionTimeout: 'integer',
  socketTimeout: 'integer',
  maxAttempts: 'integer',
  maxSockets: 'integer',
  clientConfig: 'code',
  client: 'code',
  pendingPrefix: 'string',
  uploadExpiresIn: 'integer',
  inlineTypes: 'list',
  now: 'code',
  overwrite: 'boolean',
  randomSuffix: 'code',
}

const KNOWN = [...Object.keys(S3_STORAGE_OPTIONS), 'alias']

function bad(key: string, message: string): never {
  throw new ConfigurationError(message, { key })
}

function positiveInt(key: string, value: number | undefined, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min || value > max) bad(key, `must be an integer between ${min} and ${max}, got ${value}`)
  return value
}

function checksum(key: string, value: string | undefined, fallback: ChecksumMode): ChecksumMode {
  if (value === undefined) return fallback
  if (value !== 'WHEN_SUPPORTED' && value !== 'WHEN_REQUIRED') bad(key, `must be 'WHEN_SUPPORTED' or 'WHEN_REQUIRED', got '${value}'`)
  return value
}

/**
 * Applies defaults and validates.
 * @returns the resolved options.
 * @throws ConfigurationError naming the first bad key.
 */
export function resolveS3Options(options: S3StorageOptions): ResolvedS3Options {
  if (!options || typeof options !== 'object') bad('bucket', 'is required')
  // A misspelt option would otherwise be ignored silently (e.g. `bucketName`, `acl`).
  checkOptionNames(options, KNOWN, 'S3Storage', { acl: "the canned ACL is 'defaultAcl'", bucketName: "the bucket is 'bucket'" })
  if (typeof options.bucket !== 'string' || options.bucket === '') bad('bucket', 'is required')
  // A bucket name is one path segment: white space, a slash or a control
  // character would put every key in another bucket or path, or fail each request.
  if (/[\s/\\\x00-\x1f\x7f]/.test(options.bucket)) {
    bad('bucket', `must be a bucket name (no spaces, slashes or control characters), got ${JSON.stringify(options.bucket)}`)
  }
  checkOptionValues(options, S3_STORAGE_OPTIONS)
  checkCredentials(options.credentials)
  const endpoint = options.endpoint === undefined || options.endpoint === '' ? undefined : options.endpoint
  if (endpoint !== undefined) {
    try {
      const u = new URL(endpoint)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)')
    } catch (err) {
      throw new ConfigurationError(`must be an http(s) URL, got '${endpoint}'`, { key: 'endpoint', cause: err })
    }
  }
  const provider = options.provider ?? (endpoint ? 'generic' : 'aws')
  const profile = PROFILES[provider] ?? bad('provider', `must be one of ${Object.keys(PROFILES).join(', ')}, got '${provider}'`)
  let location = ''
  try {
    location = safeDir(options.location ?? '')
  } catch (err) {
    throw new ConfigurationError(`is not a safe key prefix: '${options.location}'`, { key: 'location', cause: err })
  }
  const multipartThreshold = positiveInt('multipartThreshold', options.multipartThreshold, 8 * MIB, MIN_PART_SIZE, MAX_PART_SIZE)
  const uniformParts = options.uniformParts ?? profile.uniformParts
  const partSize = positiveInt('partSize', options.partSize, uniformParts ? 8 * MIB : MIN_PART_SIZE, MIN_PART_SIZE, MAX_PART_SIZE)
  const params = options.objectParameters
  if (params !== undefined && typeof params !== 'function') checkObjectParameters(params)
  if (options.customDomain && options.querystringAuth === true) {
    // url() gives customDomain URLs unsigned: asking for both would hand out
    // permanent public links to files the setting says are private.
    bad(
      'querystringAuth',
      'cannot be true with customDomain: customDomain URLs are plain and never expire. Leave customDomain out for presigned bucket URLs, or querystringAuth out for a public CDN',
    )
  }
  let pendingPrefix = PENDING_PREFIX
  if (options.pendingPrefix !== undefined) {
    try {
      pendingPrefix = safeDir(options.pendingPrefix)
    } catch (err) {
      throw new ConfigurationError(`is not a safe key prefix: '${options.pendingPrefix}'`, { key: 'pendingPrefix', cause: err })
    }
    if (!pendingPrefix) bad('pendingPrefix', 'must not be empty: pending uploads need a prefix of their own')
  }
  const inline = options.inlineTypes ?? []
  if (!Array.isArray(inline) || inline.some((t) => !isBareMimeType(t))) {
    bad('inlineTypes', `must be a list of MIME types like 'text/html', got ${JSON.stringify(inline)}`)
  }
  const customDomain = options.customDomain ? domainOf(options.customDomain) : undefined
  return {
    bucket: options.bucket,
    region: options.region || undefined,
    endpoint,
    forcePathStyle: options.forcePathStyle ?? (endpoint ? profile.forcePathStyle : false),
    provider,
    location,
    defaultAcl: options.defaultAcl,
    querystringAuth: options.querystringAuth ?? true,
    expiresIn: positiveInt('expiresIn', options.expiresIn, 3600, 1, MAX_EXPIRES_IN),
    customDomain,
    urlProtocol: options.urlProtocol ?? 'https:',
    objectParameters: typeof params === 'function' ? params : () => ({ ...params }),
    multipartThreshold,
    partSize,
    uniformParts,
    queueSize: positiveInt('queueSize', options.queueSize, 4, 1, 64),
    conditionalWrites: options.conditionalWrites ?? true,
    listPageSize: positiveInt('listPageSize', options.listPageSize, 1000, 1, 1000),
    connectionTimeout: positiveInt('connectionTimeout', options.connectionTimeout, 10_000),
    socketTimeout: positiveInt('socketTimeout', options.socketTimeout, 60_000),
    maxAttempts: positiveInt('maxAttempts', options.maxAttempts, 3, 1, 20),
    maxSockets: positiveInt('maxSockets', options.maxSockets, 128, 1, 10_000),
    requestChecksumCalculation: checksum('requestChecksumCalculation', options.requestChecksumCalculation, profile.checksums),
    responseChecksumValidation: checksum('responseChecksumValidation', options.responseChecksumValidation, profile.checksums),
    now: options.now ?? (() => new Date()),
    pendingPrefix,
    uploadExpiresIn: positiveInt('uploadExpiresIn', options.uploadExpiresIn, 600, 1, MAX_EXPIRES_IN),
    inlineTypes: new Set(inline.map((t) => t.trim().toLowerCase())),
    alias: options.alias,
  }
}

// How each `objectParameters` field is checked: the SDK sends whatever it is
// given and drops names it does not know, so a misspelt `CacheControll` or a
// lowercase `cacheControl` would be ignored on every upload.
const OBJECT_PARAMETERS: Readonly<Record<keyof ObjectParameters, 'string' | 'date' | 'metadata'>> = {
  CacheControl: 'string',
  ContentDisposition: 'string',
  ContentEncoding: 'string',
  ContentLanguage: 'string',
  Expires: 'date',
  Metadata: 'metadata',
  StorageClass: 'string',
  ServerSideEncryption: 'string',
  SSEKMSKeyId: 'string',
  Tagging: 'string',
}

const PARAMETER_HINTS: Readonly<Record<string, string>> = {
  ACL: "the canned ACL is the storage's 'defaultAcl' option",
  ContentType: 'the content type is given per save (contentType) or guessed from the name',
}

/**
 * Checks an `objectParameters` object: known names (`ObjectParameters`) only, each of its type.
 * @throws ConfigurationError naming `objectParameters.<name>`.
 */
function checkObjectParameters(params: object): void {
  const names = Object.keys(OBJECT_PARAMETERS)
  for (const [name, value] of Object.entries(params)) {
    const key = `objectParameters.${name}`
    const kind = Object.hasOwn(OBJECT_PARAMETERS, name) ? OBJECT_PARAMETERS[name as keyof ObjectParameters] : undefined
    if (kind === undefined) {
      const hint = Object.hasOwn(PARAMETER_HINTS, name) ? `: ${PARAMETER_HINTS[name]}` : didYouMean(name, names)
      bad(key, `is not an object parameter${hint} (known: ${names.join(', ')})`)
    }
    if (value === undefined) continue
    if (kind === 'string' && (typeof value !== 'string' || value === '')) bad(key, `must be a non-empty string, got ${JSON.stringify(value)}`)
    if (kind === 'date' && !(value instanceof Date ? !Number.isNaN(value.getTime()) : typeof value === 'string' && !Number.isNaN(Date.parse(value)))) {
      bad(key, `must be a Date or a date string (e.g. 'Wed, 21 Oct 2026 07:28:00 GMT'), got ${JSON.stringify(value)}`)
    }
    if (kind === 'metadata') {
      const plain = typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
      const bent = plain ? Object.entries(value as object).find(([k, v]) => k === '' || typeof v !== 'string') : undefined
      if (!plain || bent) bad(bent ? `${key}.${bent[0]}` : key, 'must be an object of strings (S3 user metadata)')
    }
  }
}

/**
 * `customDomain` as URLs are built from it: host and optional path, without
 * scheme or trailing slash, parsed as a URL (`https://` assumed).
 * @throws ConfigurationError (`customDomain`) for another scheme, credentials, a query or a fragment.
 */
function domainOf(value: string): string {
  let url: URL | undefined
  try {
    url = new URL(value.includes('://') ? value : `https://${value}`)
  } catch {
    // Not a URL: reported below.
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname || url.username || url.password || url.search || url.hash) {
    bad('customDomain', `must be a host with an optional path, such as 'cdn.example.com' or 'cdn.example.com/assets', got '${value}'`)
  }
  let path = url.pathname
  while (path.endsWith('/')) path = path.slice(0, -1)
  return url.host + path
}

/** Static keys must both be there and non-empty: a blank secret fails only at the first request, as "signature does not match". */
function checkCredentials(credentials: S3StorageOptions['credentials']): void {
  if (credentials === undefined || typeof credentials === 'function') return
  for (const key of ['accessKeyId', 'secretAccessKey'] as const) {
    const value = (credentials as unknown as Record<string, unknown>)[key]
    if (typeof value !== 'string' || value.trim() === '') {
      bad(
        `credentials.${key}`,
        `is required when credentials are given as keys (leave credentials out to use the SDK's chain: AWS_ACCESS_KEY_ID, AWS_PROFILE, an instance role)`,
      )
    }
  }
}

/**
 * The region every client `S3Storage` builds is given (the main one and the
 * presign one alike, so presigned URLs name the region requests go to): the
 * `region` option; else, with `endpoint`, the provider's (an S3-compatible
 * server has no use for the SDK's AWS chain, and `clientConfig.region` is
 * ignored there as `S3StorageOptions.clientConfig` documents); else
 * `clientConfig.region`.
 * @returns the region, or undefined to let the SDK's chain (`AWS_REGION`, `~/.aws/config`) decide. Never throws.
 */
export function clientRegion(opts: Pick<ResolvedS3Options, 'region' | 'endpoint' | 'provider'>, clientConfig?: S3ClientConfig): S3ClientConfig['region'] {
  if (opts.region !== undefined) return opts.region
  return opts.endpoint ? PROFILES[opts.provider].region : clientConfig?.region
}

/**
 * @returns whether `t` is one MIME type without parameters (`text/html`), read by Node's MIME parser,
 * and no wildcard (`text/*`): entries are matched exactly, so a wildcard would never apply. Never throws.
 */
function isBareMimeType(t: unknown): boolean {
  if (typeof t !== 'string' || t.includes('*')) return false
  try {
    return new MIMEType(t.trim()).essence === t.trim().toLowerCase()
  } catch {
    return false
  }
}
