// Where the profiles app keeps its files. Relative paths are relative to this
// file. Every value can be overridden from the environment without touching
// code, e.g. STOWAGE_DEFAULT_BACKEND=s3 STOWAGE_DEFAULT_BUCKET=media ...
// (see README.md, "Run on S3").
import { defineConfig } from '@stowage/core'

// Signed download links for private documents on local disk are HMAC-signed
// with this secret. The fallback is for development only: server.js refuses to
// start with it when NODE_ENV=production.
export const DEV_SIGNING_SECRET = 'profiles-example-dev-secret-not-for-production'

export default defineConfig({
  storages: {
    // Public media (avatars): Django's MEDIA_ROOT / MEDIA_URL.
    default: { backend: 'local', options: { location: './media', baseUrl: '/media/' } },
    // Private media (documents): only reachable through signed, expiring URLs.
    private: {
      backend: 'local',
      options: { location: './private-media', baseUrl: '/private-media/', signingSecret: DEV_SIGNING_SECRET, expiresIn: 300 },
    },
    // Where `stowage collectstatic` puts the app's CSS, JS and images, with content-hashed names.
    staticfiles: { backend: 'local', options: { location: './staticfiles', baseUrl: '/static/' }, manifest: true },
  },
  staticfiles: { dirs: ['./static'] },
})
