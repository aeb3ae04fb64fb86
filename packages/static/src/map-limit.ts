/**
 * Maps `items` through `fn` with at most `concurrency` calls in flight.
 *
 * `Promise.all(items.map((x) => limit(() => fn(x))))` makes a promise, a
 * closure and a queue entry per item before the first call runs; over a
 * tree of 20,000 files that is tens of megabytes held for the whole phase.
 * Here `concurrency` workers take the next item as they finish one, so
 * memory is bounded by what is in flight. `fn` is told its `slot` (which
 * worker, `0` to `concurrency - 1`): what a slot holds (a read buffer) is
 * never used by two calls at once.
 * @returns the results, in the order of `items`.
 * @throws the first error `fn` throws; no item is started after it (calls in flight finish on their own).
 */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number, slot: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async (_: unknown, slot: number): Promise<void> => {
    while (next < items.length) {
      const i = next++
      try {
        results[i] = await fn(items[i]!, i, slot)
      } catch (err) {
        next = items.length
        throw err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker))
  return results
}
