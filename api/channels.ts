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
 * wake-up published after that read is received. While Redis is away there is nothing to wait for: the channels are
 * subscribed when the connection is ready again (a subscribe queued before a connection's ready check would break
 * it), and readers lose only the wake-ups Redis could not carry anyway.
 */
export function createChannels (subscriber: RedisClient, onError: (error: unknown) => void): Channels {
  const held = new Map<string, Entry>()
  /** Let go while Redis was away: ioredis renews what it had subscribed on reconnect, so these go once it is back. */
  const dropped = new Set<string>()

  function subscribe (channel: string, entry: Entry): void {
    entry.subscribed = subscriber.ssubscribe(channel).then(() => { entry.confirmed = true }, onError)
  }

  subscriber.on('ready', () => {
    for (const channel of dropped) if (!held.has(channel)) subscriber.sunsubscribe(channel).catch(onError)
    dropped.clear()
    for (const [channel, entry] of held) subscribe(channel, entry)
  })

  return {
    get size () { return held.size },

    hold (channel) {
      let entry = held.get(channel)
      if (entry === undefined) {
        entry = { holders: 0, confirmed: false, subscribed: undefined }
        held.set(channel, entry)
        if (isConnected(subscriber)) subscribe(channel, entry)
      }
      entry.holders++
      const taken = entry
      let released = false
      return {
        ready: taken.confirmed || taken.subscribed === undefined || !isConnected(subscriber)
          ? Promise.resolve()
          : Promise.race([taken.subscribed, sleep(confirmWaitMs, undefined, { ref: false })]),
        release () {
          if (released) return
          released = true
          if (--taken.holders > 0 || held.get(channel) !== taken) return
          held.delete(channel)
          if (isConnected(subscriber)) subscriber.sunsubscribe(channel).catch(onError)
          else dropped.add(channel)
        }
      }
    }
  }
}

interface Entry {
  holders: number
  /** Redis answered the SSUBSCRIBE. */
  confirmed: boolean
  /** The SSUBSCRIBE sent, once the connection was ready. */
  subscribed: Promise<void> | undefined
}
