import { Redis } from 'ioredis'
import t from 'tap'
import { startApi, startWorker, type PigeonProcess } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { testDb } from './helper.js'
import { assertEachAcceptedStoredOnce, faultEnv, printOutputOnFailure, send, startRedis, texts, type Accepted } from './faults.js'
import { call, createRoom, signUp } from './http-client.js'

// Redis loses everything (FLUSHALL: a failover to an empty replica, an operator's slip) while accepted sends wait for a
// worker. Each task still answers, a retry with its Idempotency-Key still gets the same task, and once a worker runs
// each send is stored exactly once, whether its client retried or not.
t.setTimeout(300_000)

const redis = await startRedis()
const env = { ...faultEnv, REDIS_URL: redis.url }
const config = await testConfig(t)
const db = testDb(t, config)
const api = await startApi(config, env)
let worker: PigeonProcess | undefined
t.teardown(async () => {
  await Promise.all([api.stop(), worker?.kill()])
  await redis.kill()
})
printOutputOnFailure(t, () => ({ api, ...(worker === undefined ? {} : { worker }) }))

t.test('after FLUSHALL, queued tasks still answer, keyed retries get the same task, and each send is stored once', async (t) => {
  const dot = await signUp(api, 'dot_flush')
  const roomId = await createRoom(api, dot, 'flushed')
  const keyed = (label: string) => texts(label, 5).map((text, i) => ({ text, key: `${label}-${i + 1}` }))
  const retried = keyed('retried')
  const leftAlone = keyed('left alone')

  const accepted: Accepted[] = []
  for (const { text, key } of [...retried, ...leftAlone]) {
    const sent = await send(api, dot, roomId, text, { 'idempotency-key': key })
    t.equal(sent.status, 202, `${text} accepted`)
    accepted.push({ text, taskId: sent.taskId ?? '' })
  }

  const client = new Redis(redis.url)
  await client.flushall()
  client.disconnect()

  const tasks = await Promise.all(accepted.map((sent) => call(api, 'GET', `/v1/tasks/${sent.taskId}`, { token: dot.token })))
  t.same(tasks.map((task) => ({ status: task.status, state: task.body?.state })), accepted.map(() => ({ status: 200, state: 'queued' })),
    'every task still answers, queued: Redis was not where it was kept')

  const retries = await Promise.all(retried.map(({ text, key }) => send(api, dot, roomId, text, { 'idempotency-key': key })))
  t.same(retries.map((sent) => ({ status: sent.status, taskId: sent.taskId })), accepted.slice(0, 5).map((sent) => ({ status: 202, taskId: sent.taskId })),
    'a retry with the same key and body answers 202 with the same task')

  worker = startWorker(config, env)
  await assertEachAcceptedStoredOnce(t, { api, db, sender: dot, roomId, accepted, within: 60_000 })
})
