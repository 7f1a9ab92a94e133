import type { FeedPosition, KnownFeed, RoomRead } from '../core/unseen-feed.js'
import type { ChannelHold, Channels } from './channels.js'
import type { WaitOutcome } from './waiters.js'

/** What woke a watch since its reader last started a read: its user's news (read the whole feed), or rooms' news. */
export interface Wakes { full: boolean, rooms: ReadonlySet<number> }

/**
 * A reader waiting with what it knows, which a wake-up about one of its rooms can answer without resuming it: it joins
 * the read of that room shared with every reader the wake-up reached here (`ask`, api/room-reads.ts), and takes its
 * part of it in the one synchronous pass that hands the read to them all (`answer`). What that did:
 * - 'kept': it goes on waiting (nothing in the room for it, or a push reader sent what there was at once);
 * - 'answered': its wait ends with the answer it took (a long poll);
 * - 'read': the shared read could not answer it (it left the room, it needs more than a page, the read failed), or it
 *   sent a full page: it reads its whole feed itself.
 */
export interface ParkedReader {
  ask: (roomId: number, take: (read: RoomRead | undefined) => void) => void
  answer: (read: RoomRead | undefined) => 'kept' | 'answered' | 'read'
}

/**
 * One reader of a user's feed on this instance (a long poll, an event stream, a socket) and the wake-ups that
 * concern it. It stays registered from before its first read until it closes, so nothing that happens while its
 * reader reads is lost: the wake-ups wait in it until the reader takes them.
 */
export interface FeedWatch {
  readonly userId: number
  /** Resolves once the user's channel and the channels of the rooms known for them are subscribed. */
  ready: () => Promise<void>
  /** Takes the wake-ups pending, as a read starts; `mark` tells `cover` when. */
  take: () => Wakes & { mark: number }
  /**
   * After a read of the whole feed: these are the user's rooms now. Subscribes the new ones, lets the ones left go,
   * and answers true when a wake-up of one of them could have been missed during that read (its channel was not
   * subscribed before it began): then read again.
   */
  cover: (roomIds: Iterable<number>, mark: number) => Promise<boolean>
  /**
   * Resolves with 'woken' at once if wake-ups are pending; else when one comes, the time is up, the client leaves or the
   * watch ends. While it waits, `parked` (if given) is answered from shared room reads (see ParkedReader); an answer
   * that ends the wait resolves it with 'woken'.
   */
  wait: (ms: number, signal: AbortSignal, parked?: ParkedReader) => Promise<WaitOutcome>
  /** Where this reader's last answer left it, if it may resume there without reading first (see readFeed). */
  resume: (position: FeedPosition) => KnownFeed | undefined
  keep: (position: Required<FeedPosition>, known: KnownFeed) => void
  close: () => void
}

interface UserEntry {
  watches: Set<Watch>
  /** Holds that are not watches: a task waiting for its outcome, say. */
  holds: number
  user: ChannelHold
  /** The user's rooms as the last read found them; `since`: the clock when the room's channel was confirmed. */
  rooms: Map<number, { hold: ChannelHold, since: number | undefined }>
  linger?: NodeJS.Timeout
}

/** Who learns when a user's readers here come and go. */
export interface UserObserver { held: (userId: number) => void, released: (userId: number) => void }

interface Watch extends FeedWatch {
  kind: 'poll' | 'push'
  /** Ended by the server (pushed out, or shutting down): its reader answers and closes it. */
  readonly ended: boolean
  wake: (full: boolean, roomId?: number) => void
  end: (outcome: WaitOutcome) => void
}

/**
 * Every feed reader of this API process, by user and by room, and the channels they need: an instance subscribes to
 * a user's channel while it holds a reader (or a task wait) of theirs, and to the channel of each of their rooms; a
 * room's wake-up reaches the readers of its members here, a user's wake-up that user's readers. A user's channels stay
 * subscribed for `lingerMs` after their last reader goes, so a long poll coming back for the next answer finds them.
 */
export function createFeedWatches (options: {
  channels: Channels
  roomChannel: (roomId: number) => string
  userChannel: (userId: number) => string
  /** At most this many long polls per user: one more answers the oldest ('superseded'). */
  pollsPerUser: number
  lingerMs: number
}) {
  const { channels } = options
  const users = new Map<number, UserEntry>()
  const roomUsers = new Map<number, Set<number>>()
  let clock = 0
  let size = { poll: 0, push: 0 }
  const observers: UserObserver[] = []

  function entryOf (userId: number): UserEntry {
    let entry = users.get(userId)
    if (entry === undefined) {
      entry = { watches: new Set(), holds: 0, user: channels.hold(options.userChannel(userId)), rooms: new Map() }
      users.set(userId, entry)
    }
    clearTimeout(entry.linger)
    entry.linger = undefined
    return entry
  }

  function addRoom (userId: number, entry: UserEntry, roomId: number): void {
    const room = { hold: channels.hold(options.roomChannel(roomId)), since: undefined as number | undefined }
    entry.rooms.set(roomId, room)
    room.hold.ready.then(() => { room.since = ++clock }, () => {})
    let members = roomUsers.get(roomId)
    if (members === undefined) roomUsers.set(roomId, members = new Set())
    members.add(userId)
  }

  function dropRoom (userId: number, entry: UserEntry, roomId: number): void {
    entry.rooms.get(roomId)?.hold.release()
    entry.rooms.delete(roomId)
    const members = roomUsers.get(roomId)
    members?.delete(userId)
    if (members?.size === 0) roomUsers.delete(roomId)
  }

  /** After the last reader or hold of a user goes, their channels go too, `lingerMs` later unless one comes back. */
  function released (userId: number, entry: UserEntry): void {
    if (entry.watches.size > 0 || entry.holds > 0) return
    entry.linger = setTimeout(() => {
      if (users.get(userId) !== entry || entry.watches.size > 0 || entry.holds > 0) return
      for (const roomId of [...entry.rooms.keys()]) dropRoom(userId, entry, roomId)
      entry.user.release()
      users.delete(userId)
    }, options.lingerMs)
    entry.linger.unref()
  }

  return {
    get size () { return size },

    /** A reader's watch, registered from now until `close`. */
    watch (userId: number, kind: 'poll' | 'push'): FeedWatch {
      const entry = entryOf(userId)
      if (kind === 'poll') {
        const polls = [...entry.watches].filter((other) => other.kind === 'poll' && !other.ended)
        if (polls.length >= options.pollsPerUser) polls[0]?.end('superseded')
      }
      let pending = { full: false, rooms: new Set<number>() }
      let endedWith: WaitOutcome | undefined
      let settle: ((outcome: WaitOutcome) => void) | undefined
      let kept: { position: FeedPosition, known: KnownFeed } | undefined
      let closed = false
      // The reader waiting now with what it knows, and whether it has joined a room read already: one at a time.
      let parked: ParkedReader | undefined
      let asking = false
      // A push channel waits on one signal for its whole life: listened to once, not at every wait.
      let heard: AbortSignal | undefined

      const watch: Watch = {
        userId,
        kind,
        get ended () { return endedWith !== undefined },
        async ready () {
          await Promise.all([entry.user.ready, ...[...entry.rooms.values()].map((room) => room.hold.ready)])
        },
        take () {
          const taken = { ...pending, mark: ++clock }
          pending = { full: false, rooms: new Set() }
          return taken
        },
        async cover (roomIds, mark) {
          const now = new Set(roomIds)
          let missed = false
          for (const roomId of entry.rooms.keys()) if (!now.has(roomId)) dropRoom(userId, entry, roomId)
          for (const roomId of now) {
            const room = entry.rooms.get(roomId)
            if (room === undefined) addRoom(userId, entry, roomId)
            if (room?.since === undefined || room.since > mark) missed = true
          }
          if (missed) await Promise.all([...now].map(async (roomId) => await entry.rooms.get(roomId)?.hold.ready))
          return missed
        },
        async wait (ms, signal, reader) {
          if (endedWith !== undefined) return endedWith
          if (pending.full || pending.rooms.size > 0) return 'woken'
          if (signal.aborted) return 'aborted'
          if (heard !== signal) {
            heard = signal
            signal.addEventListener('abort', () => { if (heard === signal) settle?.('aborted') }, { once: true })
          }
          return await new Promise<WaitOutcome>((resolve) => {
            const timer = setTimeout(() => settle?.('timeout'), ms)
            parked = reader
            settle = (outcome) => {
              settle = undefined
              parked = undefined
              clearTimeout(timer)
              resolve(outcome)
            }
          })
        },
        resume (position) {
          return kept?.position === position ? kept.known : undefined
        },
        keep (position, known) {
          kept = { position, known }
        },
        wake (full, roomId) {
          const reader = parked
          if (!full && roomId !== undefined && reader !== undefined && !asking) {
            // Answered with every other reader of the room here, in one pass, without waking.
            asking = true
            reader.ask(roomId, (read) => {
              asking = false
              if (closed) return
              // It stopped waiting meanwhile (woken for something else, or its time was up): it reads the room itself.
              if (parked !== reader) {
                watch.wake(false, roomId)
                return
              }
              let outcome: ReturnType<ParkedReader['answer']>
              try {
                outcome = reader.answer(read)
              } catch {
                outcome = 'read'
              }
              if (outcome === 'answered') settle?.('woken')
              else if (outcome === 'read') watch.wake(true)
            })
            return
          }
          if (full) pending.full = true
          if (roomId !== undefined) pending.rooms.add(roomId)
          settle?.('woken')
        },
        end (outcome) {
          endedWith ??= outcome
          settle?.(outcome)
        },
        close () {
          if (closed) return
          closed = true
          watch.end('aborted')
          entry.watches.delete(watch)
          size = { ...size, [kind]: size[kind] - 1 }
          if (entry.watches.size === 0) for (const observer of observers) observer.released(userId)
          released(userId, entry)
        }
      }
      entry.watches.add(watch)
      size = { ...size, [kind]: size[kind] + 1 }
      if (entry.watches.size === 1) for (const observer of observers) observer.held(userId)
      return watch
    },

    /** Keeps the user's channel subscribed (for a task wait, say) until the returned function is called. */
    holdUser (userId: number): { ready: Promise<void>, release: () => void } {
      const entry = entryOf(userId)
      entry.holds++
      let done = false
      return {
        ready: entry.user.ready,
        release () {
          if (done) return
          done = true
          entry.holds--
          released(userId, entry)
        }
      }
    },

    /**
     * A room's news: each reader of its members here reads that room; those waiting join one read of it and are
     * answered together (ParkedReader). Answers how many were reached.
     */
    wakeRoom (roomId: number): number {
      let woken = 0
      for (const userId of roomUsers.get(roomId) ?? []) {
        for (const watch of users.get(userId)?.watches ?? []) {
          watch.wake(false, roomId)
          woken++
        }
      }
      return woken
    },

    /** A user's news (their rooms changed): their readers read their whole feed. */
    wakeUser (userId: number): number {
      const watches = users.get(userId)?.watches ?? new Set()
      for (const watch of watches) watch.wake(true)
      return watches.size
    },

    /** Told when a user's first reader here registers, and when their last one closes (presence counts on it). */
    observeUsers (observer: UserObserver): void {
      observers.push(observer)
    },

    /** The users here who are in the room, as their last reads found it. */
    usersIn (roomId: number): ReadonlySet<number> {
      return roomUsers.get(roomId) ?? new Set()
    },

    /** Answers every reader, for a graceful shutdown. */
    endAll (outcome: WaitOutcome = 'closing'): void {
      for (const entry of users.values()) for (const watch of entry.watches) watch.end(outcome)
    }
  }
}

export type FeedWatches = ReturnType<typeof createFeedWatches>
