/**
 * serveVariants answers errors as serveMedia does, whichever step fails (the
 * resolver, generation, `url()`, the bytes): a missing file is the same plain 404, a
 * StorageError the same JSON, and under Express anything else goes to
 * `next(err)` as it does from serveMedia. Each case is compared with
 * serveMedia's own answer to the same error.
 */
import type { RequestListener } from 'node:http'
import express, { type ErrorRequestHandler } from 'express'
import { describe, expect, it } from 'vitest'
import { FileNotFoundError, MemoryStorage, StorageError, type Storage, type VariantResolver } from '@stowage/core'
import { serveMedia, type MediaHandler } from './serve-media.js'
import { serveVariants } from './serve-variants.js'
import { serve } from './test-support/backends.js'

/** A storage whose `method` throws `err`. */
function failing(method: 'stat' | 'url', err: unknown): Storage {
  return new Proxy(new MemoryStorage(), {
    get(target, prop, receiver) {
      if (prop === method) return () => Promise.reject(err)
      return Reflect.get(target, prop, receiver) as unknown
    },
  })
}

type Step = 'resolver' | 'ensure' | 'url' | 'bytes'

/** A resolver whose variant fails at `step` with `err`. */
function resolver(step: Step, err: unknown): VariantResolver {
  return {
    resolveVariant: (source) => {
      if (step === 'resolver') throw err
      return { source, name: `.variants/${source}`, ensure: () => (step === 'ensure' ? Promise.reject(err) : Promise.resolve()) }
    },
  }
}

/** What a client sees, and what an Express error middleware was handed. */
async function answer(handler: MediaHandler, framework: 'node:http' | 'express') {
  let handed: unknown
  let listener: RequestListener = (req, res) => handler(req, res)
  if (framework === 'express') {
    const app = express()
    app.use('/files', handler)
    const onError: ErrorRequestHandler = (err, _req, res, _next) => {
      handed = err
      res.status(599).type('text/plain').send('express error page')
    }
    app.use(onError)
    listener = app
  }
  const server = await serve(listener)
  try {
    const res = await fetch(`${server.url}/files/a.jpg?sig=x`, { signal: AbortSignal.timeout(5000) })
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text(), handed }
  } finally {
    await server.close()
  }
}

const errors: Record<string, () => unknown> = {
  'a missing file (FileNotFoundError)': () => new FileNotFoundError('a.jpg'),
  'another StorageError': () => new StorageError('disk on fire', { code: 'EIO' }),
  'a programming error (Error)': () => new Error('bug: secret detail'),
}

describe.each(['node:http', 'express'] as const)('serveVariants errors under %s, as serveMedia answers them', (framework) => {
  // `bytes`: the stored variant is served through serveMedia, whose stat fails.
  describe.each(['resolver', 'ensure', 'url', 'bytes'] as const)('failing at %s', (step) => {
    it.each(Object.keys(errors))('%s', async (kind) => {
      const err = errors[kind]!()
      const prefix = framework === 'express' ? '/' : '/files/'
      const media = await answer(serveMedia({ storage: failing('stat', err), prefix }), framework)
      const storage = failing(step === 'bytes' ? 'stat' : 'url', err)
      const variants = await answer(serveVariants({ storage, resolver: resolver(step, err), prefix, redirect: step !== 'bytes' }), framework)
      expect(variants).toEqual(media)
      // What serveMedia does, spelt out: 404 plain text, JSON for storage errors, next(err) under Express for the rest.
      if (kind.startsWith('a missing')) expect([variants.status, variants.body]).toEqual([404, 'Not Found'])
      else if (framework === 'express' && !(err instanceof StorageError)) expect([variants.status, variants.handed]).toEqual([599, err])
      else expect([variants.status, JSON.parse(variants.body)]).toEqual([500, { error: 'EINTERNAL', message: 'Internal server error' }])
    })
  })
})
