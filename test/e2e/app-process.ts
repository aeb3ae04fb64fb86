/**
 * Starts the profiles example as its own process, exactly as a user would
 * (`node examples/profiles/server.js`), but on the TypeScript sources so the
 * test never runs against a stale build.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { s3TestEnv } from '../s3.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
/** The example application's directory. */
export const APP_DIR = path.join(ROOT, 'examples/profiles')
/** Node flags that resolve workspace packages to their sources (see each package's "exports"). */
export const SOURCE_FLAGS = ['--conditions=stowage-source', '--import', 'tsx']

/**
 * The environment that moves the app's storages to the S3 test server: for
 * each alias, exactly the variables README.md documents
 * (`STOWAGE_<ALIAS>_BACKEND`, `_BUCKET`, `_ENDPOINT`, `_REGION`, `_LOCATION`,
 * the location under `prefix`), and the keys in `AWS_*`, where the SDK's
 * default chain finds them.
 * @returns the variables, to merge into the app's environment.
 * @throws Error when no S3 test server is available.
 */
export function s3AppEnv(prefix: string, locations: Record<string, string>): NodeJS.ProcessEnv {
  const s3 = s3TestEnv()
  const env: NodeJS.ProcessEnv = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }
  for (const [alias, location] of Object.entries(locations)) {
    env[`STOWAGE_${alias}_BACKEND`] = 's3'
    env[`STOWAGE_${alias}_BUCKET`] = s3.bucket
    env[`STOWAGE_${alias}_ENDPOINT`] = s3.endpoint
    env[`STOWAGE_${alias}_REGION`] = s3.region
    env[`STOWAGE_${alias}_LOCATION`] = `${prefix}/${location}`
  }
  return env
}

/** A running app. */
export interface RunningApp {
  /** Base URL, e.g. `http://127.0.0.1:40123/`. */
  url: string
  /** Everything the process printed so far (stdout and stderr), for failure messages. */
  output(): string
  /** Stops the process and waits for it to exit. */
  stop(): Promise<void>
}

/**
 * Runs node with `args` in the app directory, with the given extra environment.
 * @returns its exit code and output.
 */
export async function runInApp(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [...SOURCE_FLAGS, ...args], { cwd: APP_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, output }
}

/**
 * Starts server.js on a free port of 127.0.0.1 and waits until it listens.
 * @returns the running app.
 * @throws Error with the process output when it exits before listening.
 */
export async function startApp(env: NodeJS.ProcessEnv): Promise<RunningApp> {
  const child: ChildProcess = spawn(process.execPath, [...SOURCE_FLAGS, 'server.js'], {
    cwd: APP_DIR,
    env: { ...process.env, NODE_ENV: 'development', ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)
      if (m?.[1]) resolve(m[1])
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (d: Buffer) => (output += d))
    child.once('exit', (code) => reject(new Error(`the app exited with ${code} before listening:\n${output}`)))
  })
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** The `stowage` command, from its sources. */
const STOWAGE_BIN = path.join(ROOT, 'packages/cli/src/bin.ts')

/**
 * Runs `stowage collectstatic --no-input` in the app directory with the given environment.
 * @returns what the command printed.
 * @throws Error with its output when it fails.
 */
export async function collectStatic(env: NodeJS.ProcessEnv): Promise<string> {
  const { code, output } = await runInApp([STOWAGE_BIN, 'collectstatic', '--no-input'], env)
  if (code !== 0) throw new Error(`stowage collectstatic failed (${code}):\n${output}`)
  return output
}
