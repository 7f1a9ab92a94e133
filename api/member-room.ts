import type { Db } from '../core/db/connect.js'
import { findRoomForMember, isPublicRoom } from '../core/rooms.js'
import { HttpProblem, notFound } from './errors.js'
import { toRoomView } from './schemas/rooms.js'

/** A room the caller is in, as the routes answer it; any other room is 404, the same as a missing one. */
export async function memberRoomView (db: Db, roomId: number, userId: number) {
  const room = await findRoomForMember(db, roomId, userId)
  if (room === undefined) throw notFound.room(roomId)
  return toRoomView(room)
}

/**
 * Why a caller who is not a member may not act in a room: a public room, which anyone can see listed, says how to join
 * it (403 `JOIN_REQUIRED`); any other room is not found, so a private one stays unknown.
 */
export async function notAMemberOf (db: Db, roomId: number): Promise<HttpProblem> {
  return await isPublicRoom(db, roomId)
    ? new HttpProblem(403, `You are not a member of room ${roomId}, a public room: join it first with PUT /v1/rooms/${roomId}/members/me.`, 'JOIN_REQUIRED')
    : notFound.room(roomId)
}
