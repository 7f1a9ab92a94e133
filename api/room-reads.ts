import type { Db } from '../core/db/connect.js'
import { readRoom, type RoomRead } from '../core/unseen-feed.js'

/** One reader's need from a room read: past which seq and change number, for whom, and how much. */
export interface RoomDemand { userId: number, seq: number, change: number | undefined, limit: number }

/**
 * A room's news read once for every reader of this instance that a wake-up sent to it: the readers one wake-up reaches
 * all ask in the same turn of the event loop, one query (from the lowest position among them) answers them all, and
 * the read is handed to each of them in one synchronous pass, in the order they asked (a reader's `take` must not
 * throw); each takes its own part (core/unseen-feed.ts `roomPageFor`). A read that failed hands them nothing
 * (undefined): each then reads its whole feed, where the failure is its own to report.
 */
export function createRoomReads (db: Db, onRead: () => void) {
  const batches = new Map<number, Array<{ demand: RoomDemand, take: (read: RoomRead | undefined) => void }>>()

  async function run (roomId: number, askers: Array<{ demand: RoomDemand, take: (read: RoomRead | undefined) => void }>): Promise<void> {
    // Asked for after the readers of this turn have all asked: they were woken in one go.
    await new Promise((resolve) => setImmediate(resolve))
    batches.delete(roomId)
    onRead()
    let changes: number | undefined
    let fromSeq = Number.POSITIVE_INFINITY
    let limit = 0
    const userIds = new Set<number>()
    for (const { demand } of askers) {
      fromSeq = Math.min(fromSeq, demand.seq)
      if (demand.change !== undefined) changes = Math.min(changes ?? demand.change, demand.change)
      limit = Math.max(limit, demand.limit)
      userIds.add(demand.userId)
    }
    const read = await readRoom(db, roomId, { fromSeq, fromChange: changes, userIds: [...userIds], limit }).catch(() => undefined)
    for (const { take } of askers) take(read)
  }

  /** Asks for the room's news on behalf of one reader: `take` is called with the shared read (or undefined). */
  function ask (roomId: number, demand: RoomDemand, take: (read: RoomRead | undefined) => void): void {
    let askers = batches.get(roomId)
    if (askers === undefined) {
      batches.set(roomId, askers = [])
      run(roomId, askers).catch(() => {})
    }
    askers.push({ demand, take })
  }

  return {
    ask,
    async read (roomId: number, demand: RoomDemand): Promise<RoomRead | undefined> {
      return await new Promise((resolve) => ask(roomId, demand, resolve))
    }
  }
}

export type RoomReads = ReturnType<typeof createRoomReads>
