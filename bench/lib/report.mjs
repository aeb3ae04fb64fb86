/** Turns raw timings into medians, ratios, target verdicts, a Markdown table and JSON. */
import { median } from './measure.mjs'

const PEER_LABEL = {
  stowage: 'Stowage',
  raw: 'raw fs / SDK',
  flydrive: 'FlyDrive',
  flystorage: 'Flystorage',
  django: 'Django',
  'django-storages': 'django-storages',
  boto3: 'boto3',
  sharp: 'sharp (direct, the floor)',
  pillow: 'Django + Pillow',
}

const fmtTime = (s) => (s >= 10 ? `${s.toFixed(1)} s` : s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms`)
const fmtNum = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3))

function rate(work, s) {
  if (!work || !s) return ''
  if (work.bytes && work.bytes / (work.ops || 1) >= 512 * 1024) return `${fmtNum(work.bytes / 1048576 / s)} MB/s`
  if (work.ops) return `${fmtNum(work.ops / s)} ${work.unit ?? 'ops'}/s`
  return ''
}

/** Adds `median` per peer and `ratio` (peer time ÷ Stowage time) to every row. */
export function summarise(rows) {
  for (const row of rows) {
    row.medians = {}
    for (const [peer, runs] of Object.entries(row.peers)) row.medians[peer] = median(runs)
    const base = row.medians.stowage
    row.ratios = {}
    for (const [peer, m] of Object.entries(row.medians)) if (base > 0 && peer !== 'stowage') row.ratios[peer] = m / base
    if (row.cpu) {
      row.cpuMedians = Object.fromEntries(Object.entries(row.cpu).map(([peer, runs]) => [peer, median(runs)]))
      const own = row.cpuMedians.stowage
      row.cpuRatios = Object.fromEntries(Object.entries(row.cpuMedians).filter(([p]) => p !== 'stowage' && own > 0).map(([p, m]) => [p, m / own]))
    }
  }
  return rows
}

/** @returns target verdicts `{ target, measured, ok }` for what was run. */
export function checkTargets(rows) {
  const out = []
  const find = (id) => rows.find((r) => r.caseId === id)
  const ratioTarget = (id, peer, min, text) => {
    const r = find(id)
    if (!r || r.ratios[peer] === undefined) return
    out.push({ target: text, measured: `${r.ratios[peer].toFixed(1)}×`, ok: r.ratios[peer] >= min })
  }
  ratioTarget('collectstatic-local-2000-manifest-fresh', 'django', 10, 'collectstatic, local, manifest, 2,000 files: ≥ 10× faster than Django')
  ratioTarget('collectstatic-local-20000-manifest-fresh', 'django', 10, 'collectstatic, local, manifest, 20,000 files: ≥ 10× faster than Django')
  ratioTarget('collectstatic-s3-2000-manifest-fresh', 'django-storages', 20, 'collectstatic to S3, manifest, 2,000 files: ≥ 20× faster than django-storages')
  for (const r of rows.filter((r) => /^collectstatic-.*-2000-.*-noop$/.test(r.caseId) && r.medians.stowage !== undefined)) {
    out.push({ target: `no-op re-run under 1 s: ${r.scenario}, ${r.case}`, measured: fmtTime(r.medians.stowage), ok: r.medians.stowage < 1 })
  }
  for (const r of rows.filter((r) => r.caseId.startsWith('media-') || r.caseId.startsWith('stream-'))) {
    if (r.ratios.raw !== undefined) {
      out.push({ target: `${r.scenario} ${r.case}: ≥ 0.9× raw throughput`, measured: `${r.ratios.raw.toFixed(2)}×`, ok: r.ratios.raw >= 0.9 })
    }
    for (const peer of ['django', 'flydrive', 'flystorage']) {
      if (r.ratios[peer] !== undefined) out.push({ target: `${r.scenario} ${r.case}: not slower than ${PEER_LABEL[peer]}`, measured: `${r.ratios[peer].toFixed(2)}×`, ok: r.ratios[peer] >= 1 })
    }
  }
  const img = find('images-12mp-eager')
  if (img?.ratios.pillow !== undefined) out.push({ target: 'images, 12 MP → 3 variants: at least Pillow\'s speed', measured: `${img.ratios.pillow.toFixed(2)}×`, ok: img.ratios.pillow >= 1 })
  // Within 1.3× of the floor: Stowage's time ≤ 1.3 × sharp's, i.e. sharp ÷ Stowage ≥ 1 / 1.3.
  if (img?.ratios.sharp !== undefined) out.push({ target: 'images, 12 MP → 3 variants: within 1.3× of sharp called directly', measured: `${(1 / img.ratios.sharp).toFixed(2)}× the floor's time`, ok: img.ratios.sharp >= 1 / 1.3 })
  for (const r of rows.filter((r) => r.caseId.startsWith('stream-') && r.rss?.stowage !== undefined)) {
    out.push({ target: `${r.scenario} ${r.case}: peak RSS < 100 MB`, measured: `${r.rss.stowage.toFixed(0)} MB`, ok: r.rss.stowage < 100 })
  }
  return out
}

/** @returns the results as a Markdown document (table of medians and ratios, then targets). */
export function markdown(rows, targets, meta) {
  const lines = []
  lines.push(`Median of n runs${meta.quick ? ' (--quick sizes)' : ''}; "× Stowage" is the system's time ÷ Stowage's time (above 1: Stowage is faster). Peak RSS is that of a process doing only that one operation (Node with the SDK loaded is about 50 MB of it). CPU is the median CPU time (user + system, all threads) of the process doing the work, and its ratio to Stowage's; on a shared machine it moves much less than wall time.`)
  lines.push('')
  lines.push('| scenario | case | system | median | n | rate | × Stowage | peak RSS | CPU (× Stowage) |')
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.scenario} | ${r.case} | — | failed: ${String(r.error).split('\n')[0].slice(0, 80)} | | | | | |`)
      continue
    }
    const order = Object.keys(r.medians).sort((a, b) => (a === 'stowage' ? -1 : b === 'stowage' ? 1 : 0))
    for (const peer of order) {
      const m = r.medians[peer]
      const ratio = peer === 'stowage' ? '1' : r.ratios[peer] !== undefined ? `${r.ratios[peer].toFixed(2)}×` : ''
      const rss = r.rss?.[peer] !== undefined ? `${r.rss[peer].toFixed(0)} MB` : ''
      const c = r.cpuMedians?.[peer]
      const cpu = c === undefined ? '' : `${fmtTime(c)}${r.cpuRatios?.[peer] !== undefined ? ` (${r.cpuRatios[peer].toFixed(2)}×)` : ''}`
      lines.push(`| ${r.scenario} | ${r.case} | ${PEER_LABEL[peer] ?? peer} | ${fmtTime(m)} | ${r.peers[peer].length} | ${rate(r.work, m)} | ${ratio} | ${rss} | ${cpu} |`)
    }
    for (const note of r.notes ?? []) lines.push(`| ${r.scenario} | ${r.case} | (${note}) | | | | | | |`)
  }
  if (targets.length) {
    lines.push('')
    lines.push('| target | measured | met |')
    lines.push('|---|---:|:---:|')
    for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.ok ? 'yes' : '**no**'} |`)
  }
  lines.push('')
  lines.push(`Machine: ${meta.machine.cpu} (${meta.machine.cores} cores), ${meta.machine.memGiB} GiB RAM, ${meta.machine.os}; Node ${meta.machine.node}; ` +
    Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ') + `. S3: ${meta.s3 ?? 'not used'}. Run ${meta.date}.`)
  return lines.join('\n')
}
