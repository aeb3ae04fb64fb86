/** Timing, concurrency and child-process helpers shared by the scenarios. */
import { spawn } from 'node:child_process'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

// gc() without asking every caller for --expose-gc: a new context sees the flag.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')

/** Collects garbage now, so what earlier work left is not billed to the next timed case. */
export function collectGarbage() {
  gc()
}

/** @returns the median of `values` (mean of the middle two for even counts). */
export function median(values) {
  const s = [...values].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/** @returns seconds taken by `fn`. */
export async function seconds(fn) {
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0) / 1e9
}

/**
 * @returns wall seconds and CPU seconds (user + system, every thread of this
 *   process, libuv's pool included) taken by `fn`. On a shared machine the
 *   CPU seconds move far less than the wall time when others' load changes.
 */
export async function cpuSeconds(fn) {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await fn()
  const c = process.cpuUsage(c0)
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (c.user + c.system) / 1e6 }
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(n, concurrency, fn) {
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      await fn(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
}

/**
 * Runs a child process and parses the last line of its stdout as JSON.
 * @returns that JSON value.
 * @throws Error with the child's stderr when it exits non-zero or prints no JSON.
 */
export async function runJson(cmd, args, opts) {
  return (await runJsonTimed(cmd, args, opts)).result
}

/**
 * Runs a child process, timing it from the spawn to its exit as seen by this
 * (parent) process: start-up, module loading and exit are all counted.
 * @returns `{ result, wallSeconds, stderr }`: the last stdout line parsed as
 *   JSON (undefined when `json` is false), the whole-process wall time, and the
 *   child's stderr.
 * @throws Error with the child's stderr when it exits non-zero or (with
 *   `json`) prints no JSON.
 */
export function runJsonTimed(cmd, args, { env, cwd, timeoutMs = 30 * 60_000, json = true } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`${cmd} ${args[0]} exited ${code ?? signal}:\n${err.slice(-4000)}`))
      if (!json) return resolve({ result: undefined, wallSeconds, stderr: err })
      const last = out.trim().split('\n').pop() ?? ''
      try {
        resolve({ result: JSON.parse(last), wallSeconds, stderr: err })
      } catch {
        reject(new Error(`${cmd} ${args[0]} printed no JSON:\n${out.slice(-2000)}\n${err.slice(-2000)}`))
      }
    })
  })
}

/**
 * Flushes every dirty page of the machine to disk (`sync`), so the write-back
 * one timed run leaves behind is not billed to the next one. Untimed.
 */
export function syncFs() {
  return runJsonTimed('sync', [], { json: false })
}

/** Rotates `items` by `k` so repeated runs do not always favour the same peer with a warm cache. */
export const rotate = (items, k) => items.map((_, i) => items[(i + k) % items.length])

/** Deterministic filler bytes (xorshift) so nothing compresses or dedupes by accident. */
export function filler(size, seed = 7) {
  const buf = Buffer.allocUnsafe(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    buf.writeUInt32LE(x >>> 0, i)
  }
  for (let i = size & ~3; i < size; i++) buf[i] = i & 0xff
  return buf
}
