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
  floor: 'floor (stat, read, MD5, write, link; no Stowage code)',
  cp: '`cp -r`',
  'raw-sdk': 'raw SDK PUTs, 32 in flight (no Stowage code)',
}

const fmtTime = (s) => (s >= 10 ? `${s.toFixed(1)} s` : s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms`)
const fmtNum = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3))

function rate(work, s) {
  if (!work || !s) return ''
  if (work.bytes && work.bytes / (work.ops || 1) >= 512 * 1024) return `${fmtNum(work.bytes / 1048576 / s)} MB/s`
  if (work.ops) return `${fmtNum(work.ops / s)} ${work.unit ?? 'ops'}/s`
  return ''
}

/** @returns `{ medians, ratios }`: the median per peer of `runs`, and each other peer's median ÷ Stowage's. */
function mediansAndRatios(runs) {
  const medians = Object.fromEntries(Object.entries(runs).map(([peer, v]) => [peer, median(v)]))
  const base = medians.stowage
  const ratios = Object.fromEntries(
    Object.entries(medians)
      .filter(([p]) => p !== 'stowage' && base > 0)
      .map(([p, m]) => [p, m / base]),
  )
  return { medians, ratios }
}

/**
 * Adds `medians` per peer and `ratios` (peer time ÷ Stowage time) to every
 * row; for rows with whole-process times (`wall`), `wallMedians`,
 * `wallRatios` and `floorRatios` (Stowage's whole-process time ÷ the floor's
 * and ÷ `cp -r`'s: below 1 is faster than that peer).
 */
export function summarise(rows) {
  for (const row of rows) {
    ;({ medians: row.medians, ratios: row.ratios } = mediansAndRatios(row.peers))
    if (row.wall) {
      ;({ medians: row.wallMedians, ratios: row.wallRatios } = mediansAndRatios(row.wall))
      row.floorRatios = {}
      for (const peer of ['floor', 'cp']) {
        const own = row.wallMedians.stowage
        const m = row.wallMedians[peer]
        if (own > 0 && m > 0) row.floorRatios[peer] = own / m
      }
    }
    if (row.cpu) {
      row.cpuMedians = Object.fromEntries(Object.entries(row.cpu).map(([peer, runs]) => [peer, median(runs)]))
      const own = row.cpuMedians.stowage
      row.cpuRatios = Object.fromEntries(
        Object.entries(row.cpuMedians)
          .filter(([p]) => p !== 'stowage' && own > 0)
          .map(([p, m]) => [p, m / own]),
      )
    }
  }
  return rows
}

const COLLECT_ID = /^collectstatic-(local|s3)-(\d+)-(plain|manifest)-(fresh|noop|changed)$/

/**
 * Issue #12's collectstatic targets, at every tree size that was run; local
 * ones on whole-process times (start-up included, as a deploy waits for it),
 * S3 ones on in-process times (the requests are the work compared).
 */
function collectstaticTargets(rows, out) {
  const x = (v, digits = 2) => `${v.toFixed(digits)}×`
  const files = (n) => `${Number(n).toLocaleString('en-US')} files`
  const rssBySize = new Map()
  for (const r of rows) {
    const m = COLLECT_ID.exec(r.caseId)
    if (!m || r.error) continue
    const [, target, n, mode, kase] = m
    const where = `collectstatic, ${target === 's3' ? 'S3' : 'local'}, ${mode}, ${files(n)}`
    if (target === 's3') {
      if (kase !== 'fresh' || r.medians.stowage === undefined) continue
      // Stowage within 1.5× of the raw SDK: raw ÷ Stowage ≥ 1 / 1.5.
      if (r.ratios['raw-sdk'] !== undefined)
        out.push({
          target: `${where}, fresh: within 1.5× of the raw SDK's PUTs of the same objects`,
          measured: `${x(1 / r.ratios['raw-sdk'])} the raw SDK's time`,
          ok: r.ratios['raw-sdk'] >= 1 / 1.5,
        })
      if (r.ratios['django-storages'] !== undefined)
        out.push({
          target: `${where}, fresh: ≥ 8× faster than django-storages`,
          measured: x(r.ratios['django-storages'], 1),
          ok: r.ratios['django-storages'] >= 8,
        })
      continue
    }
    const w = r.wallRatios ?? {}
    if (r.wallMedians?.stowage === undefined) continue
    if (r.rss?.stowage !== undefined) rssBySize.set(n, Math.max(rssBySize.get(n) ?? 0, r.rss.stowage))
    if (kase === 'fresh' && mode === 'manifest') {
      if (r.floorRatios.floor !== undefined)
        out.push({
          target: `${where}, fresh: within 1.5× of the floor (whole process)`,
          measured: `${x(r.floorRatios.floor)} the floor's time`,
          ok: r.floorRatios.floor <= 1.5,
        })
      if (w.django !== undefined) out.push({ target: `${where}, fresh: ≥ 3× faster than Django (whole process)`, measured: x(w.django, 1), ok: w.django >= 3 })
    }
    if (kase === 'fresh' && mode === 'plain') {
      if (r.floorRatios.cp !== undefined)
        out.push({
          target: `${where}, fresh: within 1.5× of \`cp -r\` (whole process)`,
          measured: `${x(r.floorRatios.cp)} \`cp -r\`'s time`,
          ok: r.floorRatios.cp <= 1.5,
        })
      if (w.django !== undefined) out.push({ target: `${where}, fresh: not slower than Django (whole process)`, measured: x(w.django), ok: w.django >= 1 })
    }
    if (kase === 'fresh' && r.cpuMedians?.stowage !== undefined && r.cpuMedians.django !== undefined) {
      out.push({
        target: `${where}, fresh: CPU seconds not above Django's (whole process)`,
        measured: `${r.cpuMedians.stowage.toFixed(2)} s vs ${r.cpuMedians.django.toFixed(2)} s`,
        ok: r.cpuMedians.stowage <= r.cpuMedians.django,
      })
    }
    if (kase === 'changed' && w.django !== undefined) {
      // How far the floor itself gets: a target it cannot reach is out of reach for anything.
      const floor = r.wallMedians.floor && r.wallMedians.django ? `; the floor: ${x(r.wallMedians.django / r.wallMedians.floor, 1)}` : ''
      out.push({ target: `${where}, one file changed: ≥ 20× faster than Django (whole process)`, measured: `${x(w.django, 1)}${floor}`, ok: w.django >= 20 })
    }
  }
  for (const [n, mb] of rssBySize)
    out.push({
      target: `collectstatic, local, ${files(n)}: peak RSS ≤ 100 MB (highest of every mode and case)`,
      measured: `${mb.toFixed(0)} MB`,
      ok: mb <= 100,
    })
}

/** @returns target verdicts `{ target, measured, ok }` for what was run. */
export function checkTargets(rows) {
  const out = []
  const find = (id) => rows.find((r) => r.caseId === id)
  collectstaticTargets(rows, out)
  for (const r of rows.filter((r) => /^collectstatic-.*-2000-.*-noop$/.test(r.caseId) && r.medians.stowage !== undefined)) {
    out.push({ target: `no-op re-run under 1 s: ${r.scenario}, ${r.case}`, measured: fmtTime(r.medians.stowage), ok: r.medians.stowage < 1 })
  }
  for (const r of rows.filter((r) => r.caseId.startsWith('media-') || r.caseId.startsWith('stream-'))) {
    if (r.ratios.raw !== undefined) {
      out.push({ target: `${r.scenario} ${r.case}: ≥ 0.9× raw throughput`, measured: `${r.ratios.raw.toFixed(2)}×`, ok: r.ratios.raw >= 0.9 })
    }
    for (const peer of ['django', 'flydrive', 'flystorage']) {
      if (r.ratios[peer] !== undefined)
        out.push({ target: `${r.scenario} ${r.case}: not slower than ${PEER_LABEL[peer]}`, measured: `${r.ratios[peer].toFixed(2)}×`, ok: r.ratios[peer] >= 1 })
    }
  }
  const img = find('images-12mp-eager')
  if (img?.ratios.pillow !== undefined)
    out.push({ target: "images, 12 MP → 3 variants: at least Pillow's speed", measured: `${img.ratios.pillow.toFixed(2)}×`, ok: img.ratios.pillow >= 1 })
  // Within 1.3× of the floor: Stowage's time ≤ 1.3 × sharp's, i.e. sharp ÷ Stowage ≥ 1 / 1.3.
  if (img?.ratios.sharp !== undefined)
    out.push({
      target: 'images, 12 MP → 3 variants: within 1.3× of sharp called directly',
      measured: `${(1 / img.ratios.sharp).toFixed(2)}× the floor's time`,
      ok: img.ratios.sharp >= 1 / 1.3,
    })
  for (const r of rows.filter((r) => r.caseId.startsWith('stream-') && r.rss?.stowage !== undefined)) {
    out.push({ target: `${r.scenario} ${r.case}: peak RSS < 100 MB`, measured: `${r.rss.stowage.toFixed(0)} MB`, ok: r.rss.stowage < 100 })
  }
  return out
}

/** @returns the results as a Markdown document (table of medians and ratios, then targets). */
export function markdown(rows, targets, meta) {
  const lines = []
  lines.push(
    `Median of n runs${meta.quick ? ' (--quick sizes)' : ''}; "× Stowage" is the system's time ÷ Stowage's time (above 1: Stowage is faster). "median" is timed inside the process after start-up; "whole process" (collectstatic, where each run is a process of its own) from the spawn to the exit, as the parent sees it. Peak RSS is that of a process doing only that one operation (Node with the SDK loaded is about 50 MB of it). CPU is the median CPU time (user + system, all threads) of the process doing the work, and its ratio to Stowage's; on a shared machine it moves much less than wall time. For collectstatic, peak RSS (the highest of the runs) and CPU are those of the whole process, start-up included.`,
  )
  lines.push('')
  lines.push('| scenario | case | system | median | whole process (× Stowage) | n | rate | × Stowage | peak RSS | CPU (× Stowage) |')
  lines.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.scenario} | ${r.case} | — | failed: ${String(r.error).split('\n')[0].slice(0, 80)} | | | | | | |`)
      continue
    }
    const order = [...new Set([...Object.keys(r.medians), ...Object.keys(r.wallMedians ?? {})])].sort((a, b) =>
      a === 'stowage' ? -1 : b === 'stowage' ? 1 : 0,
    )
    for (const peer of order) {
      const m = r.medians[peer]
      const ratio = m === undefined ? '' : peer === 'stowage' ? '1' : r.ratios[peer] !== undefined ? `${r.ratios[peer].toFixed(2)}×` : ''
      const w = r.wallMedians?.[peer]
      const wall = w === undefined ? '' : `${fmtTime(w)}${r.wallRatios?.[peer] !== undefined ? ` (${r.wallRatios[peer].toFixed(2)}×)` : ''}`
      const rss = r.rss?.[peer] !== undefined ? `${r.rss[peer].toFixed(0)} MB` : ''
      const c = r.cpuMedians?.[peer]
      const cpu = c === undefined ? '' : `${fmtTime(c)}${r.cpuRatios?.[peer] !== undefined ? ` (${r.cpuRatios[peer].toFixed(2)}×)` : ''}`
      const n = (r.peers[peer] ?? r.wall?.[peer]).length
      lines.push(
        `| ${r.scenario} | ${r.case} | ${PEER_LABEL[peer] ?? peer} | ${m === undefined ? '—' : fmtTime(m)} | ${wall} | ${n} | ${rate(r.work, m ?? w)} | ${ratio} | ${rss} | ${cpu} |`,
      )
    }
    const vs = Object.entries(r.floorRatios ?? {}).map(([p, x]) => `÷ ${p === 'cp' ? '`cp -r`' : 'floor'} ${x.toFixed(2)}×`)
    if (vs.length) lines.push(`| ${r.scenario} | ${r.case} | (Stowage's whole-process time ${vs.join(', ')}) | | | | | | | |`)
    for (const note of r.notes ?? []) lines.push(`| ${r.scenario} | ${r.case} | (${note}) | | | | | | | |`)
  }
  if (targets.length) {
    lines.push('')
    lines.push('| target | measured | met |')
    lines.push('|---|---:|:---:|')
    for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.ok ? 'yes' : '**no**'} |`)
  }
  lines.push('')
  lines.push(
    `Machine: ${meta.machine.cpu} (${meta.machine.cores} cores), ${meta.machine.memGiB} GiB RAM, ${meta.machine.os}; Node ${meta.machine.node}; ` +
      Object.entries(meta.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      `. S3: ${meta.s3 ?? 'not used'}. Run ${meta.date}.`,
  )
  return lines.join('\n')
}
