import { sql } from 'kysely'
import { Redis } from 'ioredis'
import t from 'tap'
import { isProblem, testWorkers } from './helper.js'
import { countMessages, eventually, pausedDeployment, sendToRoom, waitForTask } from './messaging-helper.js'

const fast = { RECONCILE_INTERVAL_SECONDS: '0.5' }

/** Deletes every Redis key of the deployment: its queues lose their jobs, as after a Redis restart without persistence. */
async function loseRedisData (redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl)
  for await (const keys of redis.scanStream({ match: `{${prefix}:*`, count: 500 })) {
    if ((keys as string[]).length > 0) await redis.del(...(keys as string[]))
  }
  await redis.quit()
}

t.test('tasks whose jobs Redis lost are handed over again, once, however many workers reconcile', async (t) => {
  const { config, app, db, dan, group } = await pausedDeployment(t, 'lost', fast)
  const accepted = await Promise.all(Array.from({ length: 20 }, (_, i) => sendToRoom(app, dan, group.id, `lost ${i}`)))
  t.same(accepted.map((res) => res.statusCode), Array(20).fill(202))
  await loseRedisData(config.REDIS_URL, config.REDIS_PREFIX)

  const queued = await app.inject({ url: `/v1/tasks/${accepted[0]?.json().taskId}`, headers: dan.auth })
  t.match(queued.json(), { state: 'queued', attempts: 0 }, 'the task still answers, from Postgres')

  // Three worker processes' worth of reconcilers race for the same tasks.
  testWorkers(t, config)
  testWorkers(t, config)
  testWorkers(t, config)
  for (const res of accepted) {
    t.equal((await waitForTask(app, dan, res.json().taskId, 30)).state, 'completed')
  }
  t.equal(await countMessages(db, group.id), 20, 'each stored once')
  const seqs = await db.selectFrom('messages').select('seq').where('room_id', '=', group.id).orderBy('seq').execute()
  t.same(seqs.map((row) => row.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'gapless')
})

t.test('finished tasks are pruned after their retention; a task holding an Idempotency-Key lives as long as the key', async (t) => {
  const { config, app, db, dan, group } = await pausedDeployment(t, 'pruned', {
    ...fast, TASK_RETENTION_SECONDS: '3600', IDEMPOTENCY_KEY_TTL_SECONDS: '7200'
  })
  testWorkers(t, config)
  const plain = await sendToRoom(app, dan, group.id, 'plain')
  const keyed = await sendToRoom(app, dan, group.id, 'keyed', { 'idempotency-key': 'prune-me' })
  const recent = await sendToRoom(app, dan, group.id, 'recent')
  for (const res of [plain, keyed, recent]) t.equal((await waitForTask(app, dan, res.json().taskId)).state, 'completed')

  // Time passes: both finished two hours ago, past the retention (1 h) but the keyed one only just at its key's age (2 h).
  const ids = [plain.json().taskId, keyed.json().taskId]
  await db.updateTable('tasks').set({ created_at: sql`now() - interval '119 minutes'`, finished_at: sql`now() - interval '119 minutes'` })
    .where('id', 'in', ids).execute()
  const gone = async (taskId: string) => isProblem(await app.inject({ url: `/v1/tasks/${taskId}`, headers: dan.auth }), 404)
  await eventually(() => gone(plain.json().taskId), Boolean, 10_000)
  t.pass('the plain task was pruned')
  t.notOk(await gone(keyed.json().taskId), 'the keyed task stays while its key is kept')
  t.notOk(await gone(recent.json().taskId), 'a recent task stays')

  await db.updateTable('tasks').set({ created_at: sql`now() - interval '121 minutes'` }).where('id', '=', keyed.json().taskId).execute()
  await eventually(() => gone(keyed.json().taskId), Boolean, 10_000)
  t.pass('pruned once its key expired')
  const again = await sendToRoom(app, dan, group.id, 'keyed', { 'idempotency-key': 'prune-me' })
  t.not(again.json().taskId, keyed.json().taskId, 'an expired key starts a new task')
  t.equal(await countMessages(db, group.id), 3, 'the messages themselves are kept')
})
