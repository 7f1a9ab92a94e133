/**
 * Answers kept in this process for a short while: what a bounded lag between instances buys. An answer is kept with
 * the time its computation began, so "at most `maxAgeMs` old" holds for what it read; and with the count of changes
 * this process had seen then, so a change seen here (`changed`) makes every answer begun before it stale at once,
 * even one still being computed. A change made through this instance therefore shows here at once; one made through
 * another shows within `maxAgeMs`.
 */
export function createShortMemo<T> (options: { maxAgeMs: number, maxEntries: number }) {
  const { maxAgeMs, maxEntries } = options
  /** In insertion order, which is the order of `begun` times closely enough to drop the oldest first. */
  const entries = new Map<string, { value: T, at: number, changes: number }>()
  let changes = 0

  return {
    /** What was kept under `key`, unless it is older than the bound or a change was seen since it was begun. */
    get (key: string): T | undefined {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (entry.changes === changes && Date.now() - entry.at < maxAgeMs) return entry.value
      entries.delete(key)
      return undefined
    },

    /** Call before reading what an answer is made of; hand the ticket to `set`. */
    begin (): { at: number, changes: number } {
      return { at: Date.now(), changes }
    },

    /** Keeps an answer, unless a change was seen since its ticket was taken. */
    set (key: string, value: T, ticket: { at: number, changes: number }): void {
      if (ticket.changes !== changes) return
      entries.delete(key)
      if (entries.size >= maxEntries) {
        const now = Date.now()
        for (const [oldKey, entry] of entries) {
          if (entries.size < maxEntries && now - entry.at < maxAgeMs) break
          entries.delete(oldKey)
        }
      }
      entries.set(key, { value, ...ticket })
    },

    /** Something kept answers may depend on changed: none of them is used again. */
    changed (): void {
      changes++
      entries.clear()
    }
  }
}

export type ShortMemo<T> = ReturnType<typeof createShortMemo<T>>
