import { sql } from 'kysely'
import t from 'tap'
import { createUser, testApp, testConfig, testDb, testWorkers } from './helper.js'
import { createGroupRoom, sendToRoom, waitForTask } from './messaging-helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
const db = testDb(t, config)
testWorkers(t, config)

t.test('a send that fails on every attempt ends as a failed task, never a stored message', async (t) => {
  const [ann, bob] = await Promise.all([createUser(app, 'ann'), createUser(app, 'bob')])
  const room = await createGroupRoom(app, ann, 'broken', [bob])
  // A real fault inside Postgres, not a stand-in: inserts of this text raise until the trigger goes.
  await sql`create function refuse_poison() returns trigger language plpgsql as $$
    begin if new.text = 'poison' then raise exception 'storage: disk on fire'; end if; return new; end $$`.execute(db)
  await sql`create trigger refuse_poison before insert on messages for each row execute function refuse_poison()`.execute(db)

  const accepted = await sendToRoom(app, ann, room.id, 'poison')
  t.equal(accepted.statusCode, 202)
  const task = await waitForTask(app, ann, accepted.json().taskId, 20)
  t.equal(task.state, 'failed')
  t.equal(task.attempts, 5, 'every attempt was spent')
  t.same(task.error, { code: 'SEND_FAILED', message: 'The message could not be stored; send it again.' })
  t.notMatch(JSON.stringify(task), /disk on fire|storage|plpgsql/, 'no internals in the answer')
  const stored = await db.selectFrom('messages').select('id').where('room_id', '=', room.id).execute()
  t.same(stored, [], 'nothing stored')
  const rooms = await db.selectFrom('rooms').select('last_seq').where('id', '=', room.id).executeTakeFirstOrThrow()
  t.equal(rooms.last_seq, 0, 'no seq was used up')

  // Had Postgres been away when the failure was recorded, the answer comes from BullMQ's failed job: still no internals.
  await db.deleteFrom('tasks').where('id', '=', accepted.json().taskId).execute()
  const fromQueue = await waitForTask(app, ann, accepted.json().taskId, 0)
  t.equal(fromQueue.state, 'failed')
  t.same(fromQueue.error, task.error)
  t.notMatch(JSON.stringify(fromQueue), /disk on fire|storage/)

  const fine = await sendToRoom(app, ann, room.id, 'all good')
  t.equal((await waitForTask(app, ann, fine.json().taskId)).result.seq, 1, 'the next send takes seq 1')
})
