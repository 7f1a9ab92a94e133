import { sql } from 'kysely'
import t from 'tap'
import { applyMessageChange } from '../core/message-changes.js'
import { persistMessages } from '../core/messages.js'
import { taskKinds } from '../core/db/schema.js'
import { createTasks, failOverdueTasks } from '../core/tasks.js'
import { createUser, isProblem, testWorkers, type TestUser } from './helper.js'
import {
  changeAndApply, changeMessage, createGroupRoom, getUnseen, pausedDeployment, runningDeployment, sendAllAndStore, sendAndStore, waitersReach, waitForTask
} from './messaging-helper.js'

const { app, db, ann, bob, cat } = await runningDeployment(t)
// ann and bob share the room; cat is not in it.
const room = await createGroupRoom(app, ann, 'changes', [bob])

async function getMessage (user: TestUser, id: number) {
  return await app.inject({ url: `/v1/messages/${id}`, headers: user.auth })
}

async function storedRow (id: number) {
  return await db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
}

t.test('GET a message: members only, and only its sender sees who has seen it, and when', async (t) => {
  const [first, second] = await sendAllAndStore(app, ann, room.id, ['seen soon', 'not yet'])
  if (first === undefined || second === undefined) throw new Error('sent')
  const before = await getMessage(ann, first.id)
  t.equal(before.statusCode, 200)
  t.match(before.json(), { id: first.id, text: 'seen soon', editedAt: null, deletedAt: null, seenByCount: 0, seenBy: [] })

  const read = await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/read`, headers: bob.auth, payload: { seq: first.seq } })
  t.equal(read.statusCode, 200)
  const seen = (await getMessage(ann, first.id)).json()
  t.equal(seen.seenByCount, 1)
  t.equal(seen.seenBy.length, 1)
  t.equal(seen.seenBy[0].userId, bob.id)
  t.ok(Date.parse(seen.seenBy[0].seenAt) >= Date.parse(first.createdAt), 'with when bob read it')
  t.match((await getMessage(ann, second.id)).json(), { seenByCount: 0, seenBy: [] }, 'the watermark did not pass the next one')

  const asBob = (await getMessage(bob, first.id)).json()
  t.equal(asBob.seenByCount, 1)
  t.notOk('seenBy' in asBob, 'only the sender gets the list')
  t.ok(isProblem(await getMessage(cat, first.id), 404), 'not a member: 404')
  t.ok(isProblem(await getMessage(ann, 999_999), 404), 'missing: 404')
})

t.test('PATCH: the author edits through the queue; others are refused', async (t) => {
  const sent = await sendAndStore(app, ann, room.id, 'typo hear')
  const accepted = await changeMessage(app, ann, sent.id, 'typo here')
  t.equal(accepted.statusCode, 202)
  t.equal(accepted.headers.location, accepted.json().statusUrl)
  const task = await waitForTask(app, ann, accepted.json().taskId)
  t.match(task, { kind: 'edit-message', state: 'completed', result: { id: sent.id, seq: sent.seq, text: 'typo here' } })
  t.type(task.result.editedAt, 'string')
  const shown = (await getMessage(bob, sent.id)).json()
  t.equal(shown.text, 'typo here')
  t.equal(shown.seq, sent.seq, 'same slot')

  const notMine = await changeMessage(app, bob, sent.id, 'hijack')
  t.ok(isProblem(notMine, 403), 'a member who is not the author: 403')
  t.equal(notMine.json().code, 'NOT_THE_AUTHOR')
  t.ok(isProblem(await changeMessage(app, cat, sent.id, 'hijack'), 404), 'not a member: 404')
  t.ok(isProblem(await changeMessage(app, ann, 999_999, 'nothing'), 404), 'missing: 404')
  t.ok(isProblem(await changeMessage(app, ann, sent.id, '   '), 400), 'the send\'s text rules: blank is 400')
  t.ok(isProblem(await changeMessage(app, ann, sent.id, 'x'.repeat(4001)), 400), 'too long is 400')
  t.equal((await storedRow(sent.id)).text, 'typo here', 'no refused edit changed it')
})

t.test('an Idempotency-Key makes a retried edit one edit', async (t) => {
  const sent = await sendAndStore(app, ann, room.id, 'v1')
  const headers = { 'idempotency-key': `edit-${sent.id}` }
  const first = await changeMessage(app, ann, sent.id, 'v2', headers)
  const again = await changeMessage(app, ann, sent.id, 'v2', headers)
  t.equal(first.statusCode, 202)
  t.equal(again.statusCode, 202)
  t.equal(again.json().taskId, first.json().taskId, 'the same task')
  const other = await changeMessage(app, ann, sent.id, 'v3', headers)
  t.ok(isProblem(other, 422), 'the same key with another text: 422')
  await waitForTask(app, ann, first.json().taskId)
  const row = await storedRow(sent.id)
  t.equal(row.text, 'v2')
  const task = await db.selectFrom('tasks').select('payload').where('id', '=', first.json().taskId).executeTakeFirstOrThrow()
  t.same(task.payload, { messageId: sent.id, editorId: ann.id, requestId: (task.payload as { requestId: string }).requestId }, 'a finished edit keeps no text: earlier versions are not kept')
})

t.test('DELETE: a tombstone keeps the slot, and the text is gone from answers and from the row', async (t) => {
  const [before, doomed, after] = await sendAllAndStore(app, ann, room.id, ['before', 'secret', 'after'])
  if (before === undefined || doomed === undefined || after === undefined) throw new Error('sent')
  t.ok(isProblem(await changeMessage(app, bob, doomed.id, null), 403), 'only the author deletes')
  const task = await changeAndApply(app, ann, doomed.id, null)
  t.match(task, { kind: 'delete-message', state: 'completed', result: { id: doomed.id, text: null } })

  const row = await storedRow(doomed.id)
  t.equal(row.text, null, 'no text in the database')
  const payloads = await db.selectFrom('tasks').select('payload').where('message_id', '=', doomed.id).execute()
  t.equal(payloads.length, 2, 'the send and the delete')
  t.notOk(JSON.stringify(payloads).includes('secret'), 'nor in the tasks that made it')
  t.ok(row.deleted_at instanceof Date)
  const shown = (await getMessage(bob, doomed.id)).json()
  t.match(shown, { id: doomed.id, seq: doomed.seq, text: null })
  t.type(shown.deletedAt, 'string')

  const history = (await app.inject({ url: `/v1/rooms/${room.id}/messages?limit=3`, headers: bob.auth })).json()
  t.same(history.items.map((m: { seq: number, text: string | null }) => [m.seq, m.text]),
    [[after.seq, 'after'], [doomed.seq, null], [before.seq, 'before']], 'history keeps the slot, without text')
  t.notOk(JSON.stringify(history).includes('secret'))

  const edit = await changeMessage(app, ann, doomed.id, 'back again')
  t.ok(isProblem(edit, 409), 'a deleted message cannot be edited')
  t.equal(edit.json().code, 'MESSAGE_DELETED')
  const twice = await changeAndApply(app, ann, doomed.id, null)
  t.equal(twice.state, 'completed', 'deleting again completes and changes nothing')
  t.equal((await storedRow(doomed.id)).change_seq, row.change_seq)
})

/** A change task recorded as the API records one, applied directly as the worker applies it: the outcome, and the task's id. */
async function change (author: TestUser, messageId: number, text: string | null) {
  const [accepted] = await createTasks(db, [{
    kind: text === null ? taskKinds.deleteMessage : taskKinds.editMessage,
    ownerId: author.id,
    payload: { messageId, editorId: author.id, text: text ?? undefined, requestId: 'test' }
  }])
  if (accepted?.outcome !== 'created') throw new Error('task')
  // These tests read Postgres only: no cached task answers to mark.
  const outcome = await applyMessageChange(db, { taskId: accepted.task.id, messageId, editorId: author.id, text }, async () => {})
  return { ...outcome, taskId: accepted.task.id }
}

t.test('two edits at once end in one of them, whole; each takes its own change number', async (t) => {
  const sent = await sendAndStore(app, ann, room.id, 'original')
  const { last_change_seq: before } = await db.selectFrom('rooms').select('last_change_seq').where('id', '=', room.id).executeTakeFirstOrThrow()
  const texts = Array.from({ length: 8 }, (_, i) => `edit number ${i} `.repeat(20 + i))
  const outcomes = await Promise.all(texts.map((text) => change(ann, sent.id, text)))
  t.ok(outcomes.every((outcome) => outcome.kind === 'applied'))
  const row = await storedRow(sent.id)
  t.ok(texts.includes(row.text ?? ''), 'the text is one of the edits, never a mix')
  const last = outcomes.find((outcome) => outcome.kind === 'applied' && outcome.message.change_seq === row.change_seq)
  t.ok(last !== undefined && last.kind === 'applied' && last.message.text === row.text, 'the edit with the last change number is the one that stands')
  const { last_change_seq: after } = await db.selectFrom('rooms').select('last_change_seq').where('id', '=', room.id).executeTakeFirstOrThrow()
  t.equal(after - before, texts.length, 'one change number each')
})

t.test('an edit racing a delete never brings the text back', async (t) => {
  for (let round = 0; round < 5; round++) {
    const sent = await sendAndStore(app, ann, room.id, `race ${round}`)
    const [, deleted, ...edits] = await Promise.all([
      change(ann, sent.id, `edit a ${round}`), change(ann, sent.id, null), change(ann, sent.id, `edit b ${round}`), change(ann, sent.id, `edit c ${round}`)
    ])
    const row = await storedRow(sent.id)
    t.equal(row.text, null, `round ${round}: deleted stays deleted`)
    t.ok(row.deleted_at instanceof Date)
    t.equal(deleted?.kind, 'applied')
    // An edit that came after the delete was refused; one that came before was overwritten by it.
    for (const edit of edits) {
      t.ok(edit.kind === 'refused' ? edit.code === 'MESSAGE_DELETED' : edit.kind === 'applied' && edit.message.change_seq < row.change_seq)
    }
  }
})

t.test('the worker checks again: an edit refused when it is applied fails its task with the reason', async (t) => {
  const sent = await sendAndStore(app, ann, room.id, 'soon gone')
  await changeAndApply(app, ann, sent.id, null)
  // Accepted before the delete (as if both were queued at once): the worker refuses it.
  const outcome = await change(ann, sent.id, 'too late')
  t.match(outcome, { kind: 'refused', code: 'MESSAGE_DELETED' })
  const bobsTry = await change(bob, sent.id, 'not mine')
  t.match(bobsTry, { kind: 'refused', code: 'NOT_THE_AUTHOR' })
  const task = await db.selectFrom('tasks').select(['state', 'error_code']).where('id', '=', outcome.taskId).executeTakeFirstOrThrow()
  t.same(task, { state: 'failed', error_code: 'MESSAGE_DELETED' }, 'its task failed with the reason')
  t.equal((await storedRow(sent.id)).text, null)
})

t.test('the feed: a waiting poll wakes for an edit of a message it had, and each change comes once', async (t) => {
  const [dan, eve] = await Promise.all(['dan', 'eve'].map((name) => createUser(app, name)))
  if (dan === undefined || eve === undefined) throw new Error('users')
  const feedRoom = await createGroupRoom(app, dan, 'feed changes', [eve])
  const [one, two] = await sendAllAndStore(app, dan, feedRoom.id, ['one', 'two'])
  if (one === undefined || two === undefined) throw new Error('sent')
  const first = (await getUnseen(app, eve)).json()
  t.same(first.items.map((m: { text: string }) => m.text), ['one', 'two'])
  t.same(first.changes, [])

  const polling = getUnseen(app, eve, { cursor: first.cursor, wait: 20 })
  await waitersReach(app, 'feed', 1)
  await changeAndApply(app, dan, one.id, 'one (edited)')
  const woken = (await polling).json()
  t.same(woken.items, [], 'no message is new')
  t.equal(woken.changes.length, 1, 'woken by the edit')
  t.match(woken.changes[0], { id: one.id, seq: one.seq, text: 'one (edited)' })
  t.type(woken.changes[0].editedAt, 'string')

  const quiet = (await getUnseen(app, eve, { cursor: woken.cursor })).json()
  t.same([quiet.items, quiet.changes], [[], []], 'the change does not come again')

  // Edited before it was fetched: arrives edited, as an item, and not also as a change.
  const three = await sendAndStore(app, dan, feedRoom.id, 'three')
  await changeAndApply(app, dan, three.id, 'three (edited)')
  await changeAndApply(app, dan, two.id, null)
  const next = (await getUnseen(app, eve, { cursor: quiet.cursor })).json()
  t.same(next.items.map((m: { id: number, text: string }) => [m.id, m.text]), [[three.id, 'three (edited)']])
  t.same(next.changes.map((m: { id: number, text: string | null }) => [m.id, m.text]), [[two.id, null]], 'the delete of one eve had')
  t.type(next.changes[0].deletedAt, 'string')

  // A lost answer loses nothing: the same cursor gives the same changes again.
  const retried = (await getUnseen(app, eve, { cursor: quiet.cursor })).json()
  t.same(retried.changes.map((m: { id: number }) => m.id), [two.id])
  const done = (await getUnseen(app, eve, { cursor: next.cursor })).json()
  t.same([done.items, done.changes], [[], []])

  // My own edits do not come to my feed.
  const mine = await sendAndStore(app, eve, feedRoom.id, 'eve here')
  await changeAndApply(app, eve, mine.id, 'eve here (edited)')
  const own = (await getUnseen(app, eve, { cursor: done.cursor })).json()
  t.same(own.changes, [])
})

t.test('a cursor from before changes were told is still read; a malformed one is 400', async (t) => {
  const old = Buffer.from(JSON.stringify({ k: 'seen', v: { [room.id]: 1 } })).toString('base64url')
  const res = await getUnseen(app, bob, { cursor: old })
  t.equal(res.statusCode, 200)
  t.not(res.json().cursor, old, 'answered with a cursor that carries change numbers')
  for (const bad of [
    Buffer.from(JSON.stringify({ k: 'feed', v: { s: { [room.id]: 1 }, c: { [room.id]: -1 } } })).toString('base64url'),
    Buffer.from(JSON.stringify({ k: 'feed', v: { s: {} } })).toString('base64url'),
    Buffer.from(JSON.stringify({ k: 'feed', v: [] })).toString('base64url')
  ]) {
    t.ok(isProblem(await getUnseen(app, bob, { cursor: bad }), 400))
  }
})

t.test('through the worker: an edit queued behind a delete of its message fails its task with MESSAGE_DELETED', async (t) => {
  // Workers off while both are accepted, then one job at a time: the delete runs first, as it was queued first.
  const { config: paused, app: pausedApp, db: pausedDb, dan, eve, group } = await pausedDeployment(t, 'queued changes', { WORKER_CONCURRENCY: '1' })
  const [stored] = await persistMessages(pausedDb, await acceptedSends(pausedDb, dan, group.id, ['short-lived']))
  if (stored?.kind !== 'stored') throw new Error('seeded message')
  const id = stored.message.id
  const deleting = await changeMessage(pausedApp, dan, id, null)
  const editing = await changeMessage(pausedApp, dan, id, 'resurrected?')
  const notAuthor = await changeMessage(pausedApp, eve, id, null)
  t.equal(deleting.statusCode, 202)
  t.equal(editing.statusCode, 202, 'accepted: the message was not deleted yet')
  t.ok(isProblem(notAuthor, 403))

  testWorkers(t, paused)
  t.match(await waitForTask(pausedApp, dan, deleting.json().taskId), { state: 'completed', result: { id, text: null } })
  t.match(await waitForTask(pausedApp, dan, editing.json().taskId), {
    kind: 'edit-message', state: 'failed', result: null, error: { code: 'MESSAGE_DELETED' }
  })
  const row = await pausedDb.selectFrom('messages').select(['text', 'deleted_at']).where('id', '=', id).executeTakeFirstOrThrow()
  t.equal(row.text, null, 'the text did not come back')
})

/** Send tasks recorded as the API records them, for storing without a worker. */
async function acceptedSends (database: typeof db, sender: TestUser, roomId: number, texts: string[]) {
  const accepted = await createTasks(database, texts.map((text) => ({
    kind: taskKinds.sendMessage, ownerId: sender.id, roomId, payload: { roomId, senderId: sender.id, text, requestId: 'test' }
  })))
  return accepted.map((acceptance, i) => {
    if (acceptance.outcome !== 'created') throw new Error('send task')
    return { taskId: acceptance.task.id, roomId, senderId: sender.id, text: texts[i] as string }
  })
}

t.test('changes page by `limit` too: a full page stops within a room, and the next one goes on from there', async (t) => {
  const [fay, gus] = await Promise.all(['fay', 'gus'].map((name) => createUser(app, name)))
  if (fay === undefined || gus === undefined) throw new Error('users')
  const sent = []
  for (const name of ['paging one', 'paging two']) {
    const paged = await createGroupRoom(app, fay, name, [gus])
    sent.push(...await sendAllAndStore(app, fay, paged.id, ['a', 'b', 'c']))
  }
  const all = (await getUnseen(app, gus, { limit: 10 })).json()
  t.equal(all.items.length, 6)
  for (const message of sent) await changeAndApply(app, fay, message.id, `${message.text ?? ''} (edited)`)

  const seen: number[] = []
  let cursor: string = all.cursor
  for (let page = 0; page < 10; page++) {
    const answer = (await getUnseen(app, gus, { cursor, limit: 4 })).json()
    cursor = answer.cursor
    if (answer.changes.length === 0) break
    t.ok(answer.changes.length <= 4)
    seen.push(...answer.changes.map((m: { id: number }) => m.id))
  }
  t.same(seen.sort((a, b) => a - b), sent.map((m) => m.id).sort((a, b) => a - b), 'every edit once, across pages')
})

t.test('an edit past its deadline fails as a change, not as a send', async (t) => {
  const sent = await sendAndStore(app, ann, room.id, 'deadline')
  const [accepted] = await createTasks(db, [{
    kind: taskKinds.editMessage, ownerId: ann.id, payload: { messageId: sent.id, editorId: ann.id, text: 'late', requestId: 'test' }
  }])
  if (accepted?.outcome !== 'created') throw new Error('task')
  await sql`update tasks set created_at = now() - interval '1 hour' where id = ${accepted.task.id}`.execute(db)
  const failed = await failOverdueTasks(db, 60, 100)
  t.ok(failed.some((task) => task.id === accepted.task.id))
  t.match(await waitForTask(app, ann, accepted.task.id, 0), { state: 'failed', error: { code: 'CHANGE_FAILED' } })
  t.equal((await storedRow(sent.id)).text, 'deadline')
})
