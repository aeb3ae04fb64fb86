/**
 * Scenario 5: `url()` of private S3 objects, i.e. presigning (pure CPU, no
 * request): URLs per second for Stowage, the raw SDK presigner, FlyDrive,
 * Flystorage, django-storages' `url()` and boto3's `generate_presigned_url`.
 */
import { s3Peers, s3Config } from '../lib/adapters.mjs'
import { rotate, runJson, seconds } from '../lib/measure.mjs'
import { PYTHON } from '../lib/peers.mjs'

const DJANGO = new URL('../django/media.py', import.meta.url).pathname

export async function run({ quick, repeats, s3env, log }) {
  const count = quick ? 1000 : 5000
  const names = ['stowage', 'raw', 'flydrive', 'flystorage', 'python']
  const runs = {}
  const prefix = `${s3env.prefix}/presign`
  const peers = {}
  for (const n of names.filter((n) => n !== 'python')) {
    peers[n] = await s3Peers[n](s3env, prefix)
    for (let i = 0; i < 200; i++) await peers[n].url(`private/doc-${i % 100}.pdf`) // warm-up
  }
  for (let r = 0; r < repeats; r++) {
    for (const n of rotate(names, r)) {
      log(`presign repeat ${r + 1}/${repeats}: ${n}`)
      if (n === 'python') {
        const s3 = { ...s3Config(s3env), accessKeyId: s3env.S3_ACCESS_KEY_ID, secretAccessKey: s3env.S3_SECRET_ACCESS_KEY, prefix }
        const cases = [
          { id: 'django-storages', op: 'presign', count },
          { id: 'boto3', op: 'presign-boto3', count },
        ]
        const res = await runJson(PYTHON, [DJANGO, JSON.stringify({ backend: 's3', s3, cases })])
        for (const c of cases) (runs[c.id] ??= []).push(res[c.id])
      } else {
        const peer = peers[n]
        let last = ''
        const t = await seconds(async () => {
          for (let i = 0; i < count; i++) last = await peer.url(`private/doc-${i % 100}.pdf`)
        })
        if (!/X-Amz-Signature=/.test(last)) throw new Error(`${n} url() did not presign: ${last}`)
        ;(runs[n] ??= []).push(t)
      }
    }
  }
  for (const p of Object.values(peers)) p.close?.()
  return [
    { scenario: 'presigned url() (S3)', case: `${count.toLocaleString('en-US')} URLs`, caseId: 'presign', work: { ops: count, unit: 'URLs' }, peers: runs },
  ]
}
