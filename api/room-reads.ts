import type { Db } from '../core/db/connect.js'
import { readRoom, type RoomRead } from '../core/unseen-feed.js'

/** One reader's need from a room read: past which seq and change number, for whom, and how much. */
export interface RoomDemand { userId: number, seq: number, change: number | undefined, limit: number }

/**
 * A room's news read once for every reader of this instance that a wake-up sent to it: the readers woken by one
 * wake-up all ask in the same turn of the event loop, and one query (from the lowest position among them) answers
 * them all; each then takes its own part (core/unseen-feed.ts `roomPageFor`).
 */
export function createRoomReads (db: Db, onRead: () => void) {
  const batches = new Map<number, { demands: RoomDemand[], read: Promise<RoomRead | undefined> }>()

  async function run (roomId: number, demands: RoomDemand[]): Promise<RoomRead | undefined> {
    // Asked for after the readers of this turn have all asked: they were woken in one go, and ask in its microtasks.
    await new Promise((resolve) => setImmediate(resolve))
    batches.delete(roomId)
    onRead()
    const changes = demands.flatMap((demand) => demand.change === undefined ? [] : [demand.change])
    return await readRoom(db, roomId, {
      fromSeq: Math.min(...demands.map((demand) => demand.seq)),
      fromChange: changes.length === 0 ? undefined : Math.min(...changes),
      userIds: [...new Set(demands.map((demand) => demand.userId))],
      limit: Math.max(...demands.map((demand) => demand.limit))
    })
  }

  return {
    async read (roomId: number, demand: RoomDemand): Promise<RoomRead | undefined> {
      let batch = batches.get(roomId)
      if (batch === undefined) {
        const demands: RoomDemand[] = []
        batch = { demands, read: run(roomId, demands) }
        batches.set(roomId, batch)
      }
      batch.demands.push(demand)
      return await batch.read
    }
  }
}

export type RoomReads = ReturnType<typeof createRoomReads>
