import { sql } from 'kysely'
import type { Db } from '../core/db/connect.js'
import { hashPassword } from '../core/password.js'
import { createGroupRoom } from '../core/rooms.js'
import { findUserByUsername } from '../core/users.js'
import { demoPassword } from './demo-data.js'
import { findSeededGroupRoom, seedMessage } from './seed-demo.js'

export interface VolumeProgress { start: (total: number) => void, advance: (by: number) => void, stop: () => void }

const batchSize = 1000

/**
 * A bigger demo, for people who want volume: users volume_1 … volume_N (password Passw0rd!) in one group
 * room "volume" with user_1, and M messages in it. Idempotent like the demo seed: fixed names and task
 * ids, so running it again, or with larger numbers, only adds what is missing.
 */
export async function seedVolume (db: Db, options: { users: number, messages: number, progress: VolumeProgress }): Promise<{ usersCreated: number, messagesStored: number }> {
  const { progress } = options
  const owner = await findUserByUsername(db, 'user_1')
  if (owner === undefined) throw new Error('seed the demo first: user_1 is missing')

  // One hash for all: volume users exist to fill lists and feeds, and scrypt per user would take minutes.
  const passwordHash = await hashPassword(demoPassword)
  let usersCreated = 0
  progress.start(options.users + options.messages)
  for (let from = 1; from <= options.users; from += batchSize) {
    const numbers = Array.from({ length: Math.min(batchSize, options.users - from + 1) }, (_, i) => from + i)
    const inserted = await db.insertInto('users')
      .values(numbers.map((n) => ({ username: `volume_${n}`, password_hash: passwordHash, display_name: `Volume User ${n}` })))
      .onConflict((oc) => oc.expression(sql`lower(username)`).doNothing())
      .returning('id').execute()
    usersCreated += inserted.length
    progress.advance(numbers.length)
  }

  const senders = await db.selectFrom('users').select('id')
    .where('username', 'like', 'volume\\_%').orderBy('id').limit(options.users).execute()
  const roomId = await findSeededGroupRoom(db, 'volume', owner.id) ??
    await createGroupRoom(db, { name: 'volume', creatorId: owner.id, memberIds: [] })
  for (let from = 0; from < senders.length; from += batchSize) {
    await db.insertInto('room_members')
      .values(senders.slice(from, from + batchSize).map(({ id }) => ({ room_id: roomId, user_id: id })))
      .onConflict((oc) => oc.columns(['room_id', 'user_id']).doNothing()).execute()
  }

  let messagesStored = 0
  for (let n = 1; n <= options.messages; n++) {
    const sender = senders.length === 0 ? owner.id : senders[(n - 1) % senders.length]?.id ?? owner.id
    const outcome = await seedMessage(db, `seed:volume:${n}`, { roomId, senderId: sender, text: `Volume message ${n}` })
    if (outcome.kind === 'stored' && outcome.created) messagesStored++
    progress.advance(1)
  }
  progress.stop()
  return { usersCreated, messagesStored }
}
