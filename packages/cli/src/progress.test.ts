import { describe, expect, it } from 'vitest'
import { ProgressBar } from './progress.js'

describe('ProgressBar', () => {
  it('redraws at most once per interval, always draws the last step, and erases itself', () => {
    let out = ''
    let now = 0
    const bar = new ProgressBar({ write: (t: string) => (out += t), columns: 60 }, { intervalMs: 100, now: () => now })
    bar.update('write', 1, 4)
    now = 50
    bar.update('write', 2, 4) // too soon: skipped
    now = 60
    bar.update('write', 4, 4) // the last step always draws
    const frames = out.split('\r').filter(Boolean)
    expect(frames).toHaveLength(2)
    expect(frames[0]).toContain(' 25% 1/4')
    expect(frames[1]).toMatch(/^Writing +\[#{20}\] 100% 4\/4/)
    bar.clear()
    expect(out.endsWith('\r\x1b[K')).toBe(true)
  })

  it('erases nothing when nothing was drawn', () => {
    let out = ''
    new ProgressBar({ write: (t: string) => (out += t) }).clear()
    expect(out).toBe('')
  })
})
