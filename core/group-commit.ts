/**
 * Group commit: calls that arrive while a batch is being written wait, and go together in the next one.
 * Under load each write carries many items; alone, an item goes at once (no timer, no added latency).
 * `write` answers one result per item, in order, or throws to fail the whole batch (each caller then retries).
 */
export function createGroupCommit<I, O> (write: (items: I[]) => Promise<O[]>, options: { maxBatch: number }) {
  let waiting: Array<{ item: I, resolve: (result: O) => void, reject: (error: unknown) => void }> = []
  let writing = false

  async function flush (): Promise<void> {
    writing = true
    while (waiting.length > 0) {
      const batch = waiting.slice(0, options.maxBatch)
      waiting = waiting.slice(batch.length)
      try {
        const results = await write(batch.map((entry) => entry.item))
        batch.forEach((entry, i) => entry.resolve(results[i] as O))
      } catch (error) {
        for (const entry of batch) entry.reject(error)
      }
    }
    writing = false
  }

  return async function add (item: I): Promise<O> {
    return await new Promise<O>((resolve, reject) => {
      waiting.push({ item, resolve, reject })
      // The first item of a quiet spell waits one turn of the event loop for the others that arrive with it.
      if (!writing) {
        writing = true
        setImmediate(flush)
      }
    })
  }
}
