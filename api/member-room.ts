import type { Db } from '../core/db/connect.js'
import { findRoomForMember } from '../core/rooms.js'
import { notFound } from './errors.js'
import { toRoomView } from './schemas/rooms.js'

/** A room the caller is in, as the routes answer it; any other room is 404, the same as a missing one. */
export async function memberRoomView (db: Db, roomId: number, userId: number) {
  const room = await findRoomForMember(db, roomId, userId)
  if (room === undefined) throw notFound.room(roomId)
  return toRoomView(room)
}
