/**
 * A one-line progress bar for a TTY, redrawn at most every `intervalMs`
 * (the clock is injectable so tests need no timers).
 */

/** Where the bar is drawn. */
export interface ProgressTarget {
  /** Writes `text` as is (a TTY stream's `write`); what it returns is ignored, what it throws is not caught. */
  write(text: string): unknown
  columns?: number
}

/** Labels for the phases `collectstatic` reports. */
const LABELS: Record<string, string> = { read: 'Reading', clear: 'Deleting', write: 'Writing', compress: 'Compressing' }

/** Draws and clears a progress line. */
export class ProgressBar {
  private last = -Infinity
  private drawn = false

  /** `intervalMs` defaults to 80; `now` to `Date.now`. Never throws. */
  constructor(
    private readonly out: ProgressTarget,
    private readonly options: { intervalMs?: number; now?: () => number } = {},
  ) {}

  /** Redraws the bar for `done` of `total` in `phase`, unless drawn less than `intervalMs` ago (the final step always draws). Throws only what `out.write` throws. */
  update(phase: string, done: number, total: number): void {
    const now = (this.options.now ?? Date.now)()
    if (done < total && now - this.last < (this.options.intervalMs ?? 80)) return
    this.last = now
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 40))
    const ratio = total === 0 ? 1 : done / total
    const filled = Math.round(ratio * width)
    const label = (LABELS[phase] ?? phase).padEnd(8)
    this.out.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${done}/${total}\x1b[K`)
    this.drawn = true
  }

  /** Erases the bar, if drawn, so the summary starts on a clean line. Throws only what `out.write` throws. */
  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K')
    this.drawn = false
  }
}
