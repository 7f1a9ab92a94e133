import { sql } from 'kysely'
import t from 'tap'
import type { Db } from '../core/db/connect.js'
import { testConfig } from '../harness/test-config.js'
import { createUser, testApp, testDb, testWorkers } from './helper.js'
import { countMessages, createGroupRoom, eventually, sendToRoom, waitForTask } from './messaging-helper.js'

// A short deadline, so a send that can never be stored fails within the test.
const config = await testConfig(t, { TASK_DEADLINE_SECONDS: '4', RECONCILE_INTERVAL_SECONDS: '0.5' })
const app = await testApp(t, config)
const db = testDb(t, config)
testWorkers(t, config)

const [ann, bob] = await Promise.all([createUser(app, 'ann'), createUser(app, 'bob')])
const room = await createGroupRoom(app, ann, 'broken', [bob])
// A real fault inside Postgres, not a stand-in: every insert of a message raises until the trigger goes.
async function breakInserts (db: Db): Promise<void> {
  await sql`create function refuse_poison() returns trigger language plpgsql as $$
    begin raise exception 'storage: disk on fire'; end $$`.execute(db)
  await sql`create trigger refuse_poison before insert on messages for each row execute function refuse_poison()`.execute(db)
}
await breakInserts(db)

t.test('a send that fails on every attempt is retried until its deadline, then fails; nothing is stored', async (t) => {
  const accepted = await sendToRoom(app, ann, room.id, 'poison')
  t.equal(accepted.statusCode, 202)
  const taskId = accepted.json().taskId
  const task = await eventually(() => waitForTask(app, ann, taskId, 5), (task) => task.state === 'failed', 60_000)
  t.ok(task.attempts >= 2, `retried, not failed at the first error (${task.attempts} attempts)`)
  t.same(task.error, { code: 'SEND_FAILED', message: 'The message could not be stored in time; send it again.' })
  t.notMatch(JSON.stringify(task), /disk on fire|storage:|plpgsql/, 'no internals in the answer')
  t.equal(await countMessages(db, room.id), 0, 'nothing stored')
  const rooms = await db.selectFrom('rooms').select('last_seq').where('id', '=', room.id).executeTakeFirstOrThrow()
  t.equal(rooms.last_seq, 0, 'no seq was used up')
})

t.test('a fault that clears before the deadline costs retries, not the message', async (t) => {
  const slow = await testConfig(t, { RECONCILE_INTERVAL_SECONDS: '0.5' })
  const slowApp = await testApp(t, slow)
  const slowDb = testDb(t, slow)
  testWorkers(t, slow)
  const cy = await createUser(slowApp, 'cyd')
  const group = await createGroupRoom(slowApp, cy, 'flaky')
  await breakInserts(slowDb)

  const accepted = await sendToRoom(slowApp, cy, group.id, 'poison, for a while')
  const taskId = accepted.json().taskId
  const attempts = () => slowDb.selectFrom('tasks').select('attempts').where('id', '=', taskId).executeTakeFirstOrThrow()
  await eventually(attempts, (row) => row.attempts >= 3, 30_000)
  const during = await slowApp.inject({ url: `/v1/tasks/${taskId}`, headers: cy.auth })
  t.equal(during.json().state, 'active', 'still being worked on, not failed')

  await sql`drop trigger refuse_poison on messages`.execute(slowDb)
  const done = await waitForTask(slowApp, cy, taskId, 30)
  t.match(done, { state: 'completed', error: null, result: { seq: 1, text: 'poison, for a while' } })
  t.equal(await countMessages(slowDb, group.id), 1)
})
