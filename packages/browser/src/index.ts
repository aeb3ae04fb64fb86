/**
 * `@stowage/browser`: uploads from the browser straight to storage, with
 * progress, abort, retries and resumable multipart. No dependencies; pair it
 * with `directUploads()` from `@stowage/http` on the server.
 */
export {
  upload,
  UploadError,
  type UploadOptions,
  type UploadResult,
  type UploadProgress,
  type UploadSession,
  type SessionStore,
  type Endpoint,
} from './upload.js'
