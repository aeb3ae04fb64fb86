import { describe, expect, it } from 'vitest'
import { mapLimit } from './map-limit.js'

describe('mapLimit', () => {
  it('keeps order, never runs more than `concurrency` at once, and runs every item', async () => {
    let running = 0
    let peak = 0
    const out = await mapLimit([...Array(50).keys()], 4, async (n) => {
      peak = Math.max(peak, ++running)
      await new Promise((r) => setImmediate(r))
      running--
      return n * 2
    })
    expect(out).toEqual([...Array(50).keys()].map((n) => n * 2))
    expect(peak).toBe(4)
  })

  it('rejects with the first error and starts no item after it', async () => {
    const started: number[] = []
    const err = await mapLimit([...Array(20).keys()], 2, async (n) => {
      started.push(n)
      await new Promise((r) => setImmediate(r))
      if (n === 3) throw new Error('boom')
    }).catch((e: Error) => e)
    expect((err as Error).message).toBe('boom')
    await new Promise((r) => setImmediate(r))
    expect(Math.max(...started)).toBeLessThanOrEqual(4)
  })

  it('handles no items and a concurrency above the item count', async () => {
    expect(await mapLimit([], 8, async () => 1)).toEqual([])
    expect(await mapLimit([1], 8, async (n) => n + 1)).toEqual([2])
  })
})
