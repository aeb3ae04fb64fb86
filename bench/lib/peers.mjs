/**
 * Installs what the benchmark compares against, so `npm run bench` works on
 * a fresh machine: Node peers into bench/node_modules (its own npm project,
 * outside the workspace), Django and django-storages from Debian, and a
 * throw-away S3 server (scripts/s3-server.sh) unless S3_ENDPOINT is set.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'
const APT_PACKAGES = ['python3-django', 'python3-django-storages', 'python3-boto3', 'python3-pil']

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`)

/** Installs bench/package.json's peers when bench/node_modules is missing or stale. */
export function ensureNodePeers(benchDir) {
  const lock = join(benchDir, 'package-lock.json')
  const stamp = join(benchDir, 'node_modules', '.package-lock.json')
  const wanted = Object.keys(JSON.parse(readFileSync(join(benchDir, 'package.json'), 'utf8')).dependencies)
  const missing = wanted.filter((d) => !existsSync(join(benchDir, 'node_modules', d, 'package.json')))
  if (missing.length === 0 && existsSync(stamp)) return
  log(`installing Node peers (${missing.join(', ') || 'refresh'}) into bench/node_modules`)
  const args = existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']
  execFileSync('npm', args, { cwd: benchDir, stdio: ['ignore', 'inherit', 'inherit'] })
}

/** @returns whether Django, django-storages, boto3 and Pillow import. */
function pythonPeersPresent() {
  const r = spawnSync(PYTHON, ['-c', 'import django, storages, boto3, PIL'], { stdio: 'ignore' })
  return r.status === 0
}

/** Installs Debian's Django, django-storages and boto3 when they do not import. @throws when apt fails. */
export function ensurePythonPeers() {
  if (pythonPeersPresent()) return
  log(`installing ${APT_PACKAGES.join(' ')} with apt-get`)
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n']
  const apt = (...a) =>
    execFileSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), '-o', 'DPkg::Lock::Timeout=600', ...a], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
  apt('update', '-qq')
  apt('install', '-y', '-q', ...APT_PACKAGES)
  if (!pythonPeersPresent()) throw new Error(`${PYTHON} still cannot import django, storages, boto3, PIL after apt-get install`)
}

/** @returns the versions of the peers, for the report. */
export function peerVersions(benchDir) {
  const v = {}
  for (const p of ['flydrive', '@flystorage/file-storage', '@flystorage/local-fs', '@flystorage/aws-s3', '@aws-sdk/client-s3']) {
    try {
      v[p] = JSON.parse(readFileSync(join(benchDir, 'node_modules', p, 'package.json'), 'utf8')).version
    } catch {}
  }
  // sharp is a dependency of @stowage/images, installed with the workspace.
  try {
    v.sharp = JSON.parse(readFileSync(join(benchDir, '..', 'node_modules', 'sharp', 'package.json'), 'utf8')).version
  } catch {}
  try {
    const out = execFileSync(
      PYTHON,
      [
        '-c',
        'import sys, django, storages, boto3, PIL; print(sys.version.split()[0], django.get_version(), storages.__version__, boto3.__version__, PIL.__version__)',
      ],
      { encoding: 'utf8' },
    )
    const [py, dj, st, b3, pil] = out.trim().split(' ')
    Object.assign(v, { python: py, django: dj, 'django-storages': st, boto3: b3, Pillow: pil })
  } catch {}
  return v
}

/**
 * Finds or starts the S3 server.
 * @returns `{ env, stop }`: the S3_* settings and a function that stops the server if this call started it.
 */
export function ensureS3(repoRoot) {
  const keys = ['S3_ENDPOINT', 'S3_REGION', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']
  if (keys.every((k) => process.env[k])) return { env: Object.fromEntries(keys.map((k) => [k, process.env[k]])), stop: () => {} }
  const script = join(repoRoot, 'scripts', 's3-server.sh')
  const running = spawnSync('bash', [script, 'status'], { stdio: 'ignore' }).status === 0
  if (!running) log('starting the S3 test server (scripts/s3-server.sh start)')
  const out = execFileSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const env = {}
  for (const line of out.split('\n')) {
    const m = /^(S3_[A-Z_]+)=(.*)$/.exec(line.trim())
    if (m) env[m[1]] = m[2]
  }
  for (const k of keys) if (!env[k]) throw new Error(`scripts/s3-server.sh start did not print ${k}`)
  return {
    env,
    stop: () => {
      if (!running) spawnSync('bash', [script, 'stop'], { stdio: 'inherit' })
    },
  }
}
