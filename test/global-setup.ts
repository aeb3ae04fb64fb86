/**
 * Vitest global setup: a real S3 server for the S3 tests.
 *
 * - `S3_ENDPOINT` set (MinIO from docker-compose.yml, AWS, R2...): used as is,
 *   with `S3_BUCKET`, `S3_REGION`, `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`
 *   and `S3_PROVIDER` (`minio`, `ceph`, `r2`, `aws`; default `generic`);
 *   the bucket is created when missing.
 * - Otherwise `scripts/s3-server.sh start` runs Ceph's RADOS Gateway (installing
 *   it with apt on first use) and teardown stops it. `STOWAGE_KEEP_S3=1` keeps
 *   it running between runs and reuses it (handy while developing).
 *
 * The server starts only when a selected test file is declared to use S3
 * (`test/s3-test-files.ts`), so `vitest run packages/core` does not pay for
 * it. When it cannot start, the
 * error is handed to the tests, which then FAIL (never skip) with its text,
 * while the rest of the suite still runs.
 */
import { execFile } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { S3Storage, ensureBucket, type S3Provider } from '@stowage/s3'
import type { TestProject } from 'vitest/node'
import type { S3TestEnv } from './s3.js'
import { usesS3 } from './s3-test-files.js'

const ROOT = resolve(import.meta.dirname, '..')
const SCRIPT = join(ROOT, 'scripts', 's3-server.sh')

function envFromProcess(): S3TestEnv | undefined {
  const e = process.env
  if (!e.S3_ENDPOINT) return undefined
  return {
    endpoint: e.S3_ENDPOINT,
    region: e.S3_REGION || 'us-east-1',
    bucket: e.S3_BUCKET || 'stowage-test',
    accessKeyId: e.S3_ACCESS_KEY_ID || e.AWS_ACCESS_KEY_ID || '',
    secretAccessKey: e.S3_SECRET_ACCESS_KEY || e.AWS_SECRET_ACCESS_KEY || '',
    provider: (e.S3_PROVIDER as S3Provider | undefined) || 'generic',
  }
}

function parseEnv(text: string): S3TestEnv {
  const vars = Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^S3_[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
  if (!vars.S3_ENDPOINT) throw new Error(`scripts/s3-server.sh start printed no S3_ENDPOINT:\n${text}`)
  return {
    endpoint: vars.S3_ENDPOINT,
    region: vars.S3_REGION ?? 'us-east-1',
    bucket: vars.S3_BUCKET ?? 'stowage-test',
    accessKeyId: vars.S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: vars.S3_SECRET_ACCESS_KEY ?? '',
    provider: 'ceph',
  }
}

function runScript(args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // Generous: the first run may apt-get install Ceph (~60 MB).
    execFile('bash', [SCRIPT, ...args], { timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`scripts/s3-server.sh ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-4000)}`))
      else resolvePromise(stdout)
    })
  })
}

async function selectedFilesUseS3(project: TestProject): Promise<boolean> {
  try {
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern ?? []
    const { testFiles } = await project.globTestFiles(filters)
    return testFiles.some(usesS3)
  } catch {
    return true // when in doubt, start it: a missing server must fail loudly, not skip
  }
}

function publish(project: TestProject, env: S3TestEnv): void {
  project.provide('s3', env)
  // Also for child processes the tests start (the CLI's tests, scripts).
  Object.assign(process.env, {
    S3_ENDPOINT: env.endpoint,
    S3_REGION: env.region,
    S3_BUCKET: env.bucket,
    S3_ACCESS_KEY_ID: env.accessKeyId,
    S3_SECRET_ACCESS_KEY: env.secretAccessKey,
    S3_PROVIDER: env.provider,
  })
}

async function ensureTestBucket(env: S3TestEnv): Promise<void> {
  const { client } = new S3Storage({
    bucket: env.bucket,
    endpoint: env.endpoint,
    region: env.region,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
  })
  try {
    await ensureBucket(client, env.bucket)
  } finally {
    client.destroy()
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = envFromProcess()
  if (given) {
    try {
      await ensureTestBucket(given)
      publish(project, given)
    } catch (err) {
      project.provide('s3Error', `S3_ENDPOINT=${given.endpoint} is set but unusable: ${(err as Error).message}`)
    }
    return undefined
  }
  if (!(await selectedFilesUseS3(project))) return undefined

  const keep = process.env.STOWAGE_KEEP_S3 === '1'
  // A kept server lives in the script's default directory so later runs find it.
  const dir = keep ? join(tmpdir(), 'stowage-s3') : join(tmpdir(), `stowage-s3-run-${process.pid}`)
  // Two attempts: the in-memory OSD has been seen to exit during start-up
  // once in many runs on a busy machine ("osd ... exited during startup"),
  // and one such start should not turn a whole CI run red. The first
  // attempt's directory is stopped (and removed) before the second.
  let started = dir
  try {
    let text: string
    try {
      text = await runScript(['start', dir])
    } catch (err) {
      if (keep) throw err
      process.stderr.write(`S3 test server failed to start, trying once more: ${(err as Error).message.split('\n')[0]}\n`)
      await runScript(['stop', dir]).catch(() => undefined)
      started = `${dir}-retry`
      text = await runScript(['start', started])
    }
    publish(project, parseEnv(text))
  } catch (err) {
    project.provide('s3Error', (err as Error).message)
    if (keep) return undefined
    return async () => {
      await runScript(['stop', started]).catch(() => undefined)
    }
  }
  if (keep) return undefined
  return async () => {
    await runScript(['stop', started])
  }
}
