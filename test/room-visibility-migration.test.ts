import { sql } from 'kysely'
import t from 'tap'
import { createMigrator } from '../core/db/migrate.js'
import { testConfig } from '../harness/test-config.js'
import { testDb } from './helper.js'

// Rooms made before visibility existed: group rooms become private, owned by their creator (or, if the creator has
// left, by their longest-standing member); direct rooms have no visibility and no owner.
const config = await testConfig(t)
const db = testDb(t, config)
const migrator = createMigrator(db)

const before = await migrator.migrateTo('2026-11-23T1800-durable-tasks')
if (before.error !== undefined) throw before.error

const { rows: users } = await sql<{ id: number }>`
  insert into users (username, password_hash, display_name)
  select 'old_' || n, 'x', 'Old ' || n from generate_series(1, 3) n returning id`.execute(db)
const [ann, bob, cat] = users.map((user) => user.id) as [number, number, number]
const insertRoom = async (kind: string, name: string | null, createdBy: number, directKey: string | null = null) =>
  (await sql<{ id: number }>`insert into rooms (kind, name, created_by, direct_key) values (${kind}, ${name}, ${createdBy}, ${directKey}) returning id`.execute(db)).rows[0]?.id as number
const kept = await insertRoom('group', 'creator stayed', ann)
const left = await insertRoom('group', 'creator left', ann)
const direct = await insertRoom('direct', null, ann, `${ann}:${bob}`)
await sql`insert into room_members (room_id, user_id, joined_at) values
  (${kept}, ${ann}, now() - interval '3 days'), (${kept}, ${bob}, now() - interval '2 days'),
  (${left}, ${cat}, now() - interval '1 day'), (${left}, ${bob}, now() - interval '2 days'),
  (${direct}, ${ann}, now()), (${direct}, ${bob}, now())`.execute(db)

const after = await migrator.migrateToLatest()
if (after.error !== undefined) throw after.error

t.test('existing group rooms become private; direct rooms have no visibility', async (t) => {
  const rooms = await db.selectFrom('rooms').select(['id', 'visibility']).orderBy('id').execute()
  t.same(rooms, [{ id: kept, visibility: 'private' }, { id: left, visibility: 'private' }, { id: direct, visibility: null }])
})

t.test('owners: the creator where still a member, else the longest-standing member; nobody in a direct room', async (t) => {
  const owners = await db.selectFrom('room_members').select(['room_id', 'user_id']).where('role', '=', 'owner').orderBy('room_id').execute()
  t.same(owners, [{ room_id: kept, user_id: ann }, { room_id: left, user_id: bob }])
})

t.test('the migration can be undone and done again', async (t) => {
  t.equal((await migrator.migrateTo('2026-11-23T1800-durable-tasks')).error, undefined)
  t.equal((await migrator.migrateToLatest()).error, undefined)
  t.equal((await db.selectFrom('rooms').select('visibility').where('id', '=', kept).executeTakeFirstOrThrow()).visibility, 'private')
})
