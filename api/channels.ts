import { setTimeout as sleep } from 'node:timers/promises'
import type { RedisClient } from '../core/redis.js'
import { isConnected } from '../core/redis.js'

/**
 * How long a holder waits for Redis to confirm a subscription: a connection that drops in between would otherwise hold
 * the reader until it is back. Past it the reader goes on, as it does while Redis is away.
 */
const confirmWaitMs = 2000

/** A hold on a channel: `ready` resolves once Redis confirmed the subscription (or could not be asked now). */
export interface ChannelHold { ready: Promise<void>, release: () => void }

export interface Channels {
  hold: (channel: string) => ChannelHold
  /** Channels subscribed now. */
  readonly size: number
}

/**
 * The sharded pub/sub channels one API process listens on, counted by who holds them: the first hold subscribes
 * (SSUBSCRIBE), the last release unsubscribes. A holder waits for `ready` before the read that decides to wait, so a
 * wake-up published after that read is received. While Redis is away there is nothing to wait for: the subscription is
 * queued, ioredis renews it on reconnect, and readers lose only the wake-ups Redis could not carry anyway.
 */
export function createChannels (subscriber: RedisClient, onError: (error: unknown) => void): Channels {
  const held = new Map<string, { holders: number, confirmed: boolean, subscribed: Promise<void> }>()

  return {
    get size () { return held.size },

    hold (channel) {
      let entry = held.get(channel)
      if (entry === undefined) {
        const made: { holders: number, confirmed: boolean, subscribed: Promise<void> } = { holders: 0, confirmed: false, subscribed: Promise.resolve() }
        made.subscribed = subscriber.ssubscribe(channel).then(() => { made.confirmed = true }, onError)
        entry = made
        held.set(channel, entry)
      }
      entry.holders++
      const taken = entry
      let released = false
      return {
        ready: taken.confirmed || !isConnected(subscriber) ? Promise.resolve() : Promise.race([taken.subscribed, sleep(confirmWaitMs, undefined, { ref: false })]),
        release () {
          if (released) return
          released = true
          if (--taken.holders > 0 || held.get(channel) !== taken) return
          held.delete(channel)
          subscriber.sunsubscribe(channel).catch(onError)
        }
      }
    }
  }
}
