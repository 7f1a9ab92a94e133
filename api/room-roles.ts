import type { Db } from '../core/db/connect.js'
import { membershipOf } from '../core/memberships.js'
import { HttpProblem, notFound } from './errors.js'

// Who may do what in a group room: any member may add people (public or private: the Slack and Zulip model, where
// people of one workspace add each other); owners rename the room, change its visibility, remove members and make
// other members owners. Its creator is its first owner. A room the caller is not in is 404, as everywhere.

/** The caller's role in a group room they are in; 404 if they are not in it, 409 for a direct room. */
export async function groupRoleOf (db: Db, roomId: number, userId: number) {
  const membership = await membershipOf(db, roomId, userId)
  if (membership === undefined) throw notFound.room(roomId)
  if (membership.kind !== 'group') throw new HttpProblem(409, 'A direct room has its two members for good.', 'NOT_A_GROUP_ROOM')
  return membership.role
}

export async function requireOwner (db: Db, roomId: number, userId: number) {
  if (await groupRoleOf(db, roomId, userId) !== 'owner') {
    throw new HttpProblem(403, 'Only an owner of this room may do that.', 'NOT_ROOM_OWNER')
  }
}
