// The Profile model's file fields: what is accepted, and where it goes. A
// row from SQLite is the record; its `avatar` and `document` columns hold
// the stored names (as Django's FileField columns do).
import { allowedTypes, fileField, imageDimensions, imageField, maxSize } from '@stowage/core'
import { images } from '@stowage/images'

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024
export const AVATAR_MAX_SIDE = 4096
export const AVATAR_MIN_SIDE = 16
export const DOCUMENT_MAX_BYTES = 20 * 1024 * 1024
/** Limits of one form upload through the server (local disk): both files and the fields fit. */
export const UPLOAD_LIMITS = { totalSize: AVATAR_MAX_BYTES + DOCUMENT_MAX_BYTES + 64 * 1024 }
/** Lifetime of a private document's download link, in seconds. */
export const DOCUMENT_LINK_SECONDS = 300
/** Longest stored name: the TEXT columns have no limit, but names should stay readable. */
const NAME_MAX_LENGTH = 200

/**
 * Lazy variant URLs are HMAC-signed with this secret. The fallback is for
 * development only: server.js refuses to start with it when NODE_ENV=production.
 */
export const DEV_VARIANT_SECRET = 'profiles-example-dev-variant-secret'

/**
 * How avatars are processed: stored upright without EXIF (no GPS leaves the
 * phone), a square thumbnail made in the same save for the list page, and a
 * large size made on first request for the profile page (served at /variants/).
 */
export const avatarImages = images({
  variants: {
    thumb: { width: 160, height: 160, fit: 'cover', format: 'webp' },
    large: { width: 1600, format: 'avif', lazy: true },
  },
  lazy: { baseUrl: '/variants/', secret: process.env.PROFILES_VARIANT_SECRET || DEV_VARIANT_SECRET },
})

/** Public avatar images, one folder per upload day (Django's `upload_to='avatars/%Y/%m/%d/'`). */
export const avatar = imageField({
  uploadTo: 'avatars/%Y/%m/%d/',
  storage: 'default',
  column: 'avatar',
  widthColumn: 'avatar_width',
  heightColumn: 'avatar_height',
  maxLength: NAME_MAX_LENGTH,
  processor: avatarImages,
  validators: [
    maxSize(AVATAR_MAX_BYTES, { min: 1 }),
    allowedTypes(['image/png', 'image/jpeg', 'image/gif', 'image/webp']),
    imageDimensions({ minWidth: AVATAR_MIN_SIDE, minHeight: AVATAR_MIN_SIDE, maxWidth: AVATAR_MAX_SIDE, maxHeight: AVATAR_MAX_SIDE }),
  ],
})

/** Private documents: in the `private` storage, only reachable through signed, expiring URLs. */
export const document = fileField({
  uploadTo: 'documents/%Y/%m/',
  storage: 'private',
  column: 'document',
  maxLength: NAME_MAX_LENGTH,
  validators: [maxSize(DOCUMENT_MAX_BYTES, { min: 1 }), allowedTypes(['application/pdf'])],
})

/** Human-readable limits shown next to the inputs. */
export const limits = {
  avatar: `PNG, JPEG, GIF or WebP; up to ${AVATAR_MAX_BYTES / 1024 / 1024} MB; ${AVATAR_MIN_SIDE}–${AVATAR_MAX_SIDE} px per side`,
  document: `PDF, up to ${DOCUMENT_MAX_BYTES / 1024 / 1024} MB; only you get a download link`,
}
