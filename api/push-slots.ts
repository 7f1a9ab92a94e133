/**
 * The push channels of one kind (event streams, or sockets) each user holds open on this process, at most `maxPerKey`
 * each. One more pushes the oldest out: its `pushOut` ends it for good, with a reason the client can read (a final
 * event, a close code), and it must not read its feed again. Ending it, not just its current wait, is what keeps a
 * user's connections from pushing each other out round and round while nothing is sent.
 */
export function createPushSlots<K> (maxPerKey: number) {
  const byKey = new Map<K, Set<() => void>>()

  function release (key: K, pushOut: () => void): void {
    const held = byKey.get(key)
    if (held === undefined || !held.delete(pushOut)) return
    if (held.size === 0) byKey.delete(key)
  }

  return {
    /** Takes a slot for a channel that `pushOut` ends; returns what frees it (idempotent: call it when the channel ends). */
    claim (key: K, pushOut: () => void): () => void {
      // A Set keeps insertion order: the first one is the oldest. Freed before it is told, so its end cannot free ours.
      const held = byKey.get(key)
      const oldest = held !== undefined && held.size >= maxPerKey ? [...held][0] : undefined
      if (oldest !== undefined) {
        release(key, oldest)
        oldest()
      }
      const slot = () => pushOut()
      let set = byKey.get(key)
      if (set === undefined) byKey.set(key, set = new Set())
      set.add(slot)
      return () => release(key, slot)
    }
  }
}

export type PushSlots<K> = ReturnType<typeof createPushSlots<K>>
