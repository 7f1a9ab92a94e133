export type WaitOutcome = 'woken' | 'timeout' | 'aborted' | 'closing' | 'superseded'

export interface Waiter {
  /** Resolves once: woken by a wake-up, or the time ran out, or the client left, or the server is closing. */
  wait: (ms: number, signal: AbortSignal) => Promise<WaitOutcome>
  /** Forgets the waiter (idempotent). Always call it, in a finally. */
  cancel: () => void
}

/**
 * An in-process index from a key (a user id, a task id) to the requests waiting on it. A waiter is
 * registered before the query that decides to wait, so a wake-up that lands in between is kept: `wait`
 * then resolves at once. Each wake-up resolves each affected waiter once and removes it. With `maxPerKey`, a waiter
 * registered beyond it answers the oldest one of its key at once ('superseded'): a client that opens another poll has
 * usually given the old one up (a reload, a reconnect), and refusing the new one would punish the live client.
 */
export function createWaiters<K> (options: { maxPerKey?: number } = {}) {
  const maxPerKey = options.maxPerKey ?? Number.POSITIVE_INFINITY
  const byKey = new Map<K, Set<(outcome: WaitOutcome) => void>>()
  let size = 0

  function remove (key: K, resolve: (outcome: WaitOutcome) => void): boolean {
    const set = byKey.get(key)
    if (set === undefined || !set.delete(resolve)) return false
    size--
    if (set.size === 0) byKey.delete(key)
    return true
  }

  return {
    get size () { return size },

    register (key: K): Waiter {
      let settled: WaitOutcome | undefined
      let resolveWait: ((outcome: WaitOutcome) => void) | undefined
      const settle = (outcome: WaitOutcome) => {
        if (settled !== undefined) return
        settled = outcome
        remove(key, settle)
        resolveWait?.(outcome)
      }
      // A Set keeps insertion order: the first one is the oldest. Settling it may remove the key's set, so look again.
      const held = byKey.get(key)
      if (held !== undefined && held.size >= maxPerKey) [...held][0]?.('superseded')
      let set = byKey.get(key)
      if (set === undefined) byKey.set(key, set = new Set())
      set.add(settle)
      size++

      return {
        wait (ms, signal) {
          if (settled !== undefined) return Promise.resolve(settled)
          return new Promise<WaitOutcome>((resolve) => {
            const onAbort = () => settle('aborted')
            const timer = setTimeout(() => settle('timeout'), ms)
            signal.addEventListener('abort', onAbort, { once: true })
            resolveWait = (outcome) => {
              clearTimeout(timer)
              signal.removeEventListener('abort', onAbort)
              resolve(outcome)
            }
            if (signal.aborted) onAbort()
          })
        },
        cancel () { settle('aborted') }
      }
    },

    wake (key: K): number {
      const set = byKey.get(key)
      if (set === undefined) return 0
      const woken = [...set]
      for (const settle of woken) settle('woken')
      return woken.length
    },

    /** Answers every waiter, for a graceful shutdown. */
    wakeAll (outcome: WaitOutcome = 'closing'): void {
      for (const set of [...byKey.values()]) {
        for (const settle of [...set]) settle(outcome)
      }
    }
  }
}

export type Waiters<K> = ReturnType<typeof createWaiters<K>>
