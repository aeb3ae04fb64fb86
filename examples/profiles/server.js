#!/usr/bin/env node
// Starts the profiles example: `node examples/profiles/server.js` (after `npm run build`),
// or `npm start` from the repository root. Environment:
//   PORT (default 3000; 0 picks a free one), HOST (default 127.0.0.1),
//   PROFILES_DB (default ./data/profiles.sqlite beside this file),
//   NODE_ENV=production to serve static files collected by `stowage collectstatic`,
//   STOWAGE_* to move any storage to another backend (see README.md).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigurationError, loadStorages, storages } from '@stowage/core'
import { createApp } from './src/app.js'
import { openDatabase } from './src/db.js'
import { DEV_SIGNING_SECRET } from './stowage.config.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const production = process.env.NODE_ENV === 'production'

const config = await loadStorages({ cwd: here }).catch((err) => {
  // A wrong setting is the user's to fix: say which one, without a stack trace.
  if (!(err instanceof ConfigurationError)) throw err
  console.error(`Refusing to start: ${err.message}`)
  process.exit(1)
})
const privateOptions = config.storages.private?.options ?? {}
if (production && privateOptions.signingSecret === DEV_SIGNING_SECRET) {
  console.error('Refusing to start: set STOWAGE_PRIVATE_SIGNING_SECRET (the development secret is public).')
  process.exit(1)
}
if (production && !process.env.PROFILES_VARIANT_SECRET) {
  console.error('Refusing to start: set PROFILES_VARIANT_SECRET (avatar variant URLs are signed with it; the development secret is public).')
  process.exit(1)
}
// Production pages link content-hashed names from the manifest collectstatic writes.
const staticStorage = storages.get('staticfiles')
if (production && typeof staticStorage.loadManifest === 'function' && !(await staticStorage.loadManifest())) {
  console.error('Refusing to start: no static files manifest; run "npx stowage collectstatic" first.')
  process.exit(1)
}
const db = openDatabase(process.env.PROFILES_DB ?? path.join(here, 'data', 'profiles.sqlite'))
const app = await createApp({ db, config, production })

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address()
  console.log(`Profiles example listening on http://${address}:${port}/`)
})
const stop = () => {
  server.close(() => {
    db.close()
    process.exit(0)
  })
  server.closeIdleConnections()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
