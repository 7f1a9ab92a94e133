import t from 'tap'
import { startApi, startWorker } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { testDb } from './helper.js'
import { countMessages, eventually } from './messaging-helper.js'
import {
  acceptedOf, assertEachAcceptedStoredOnce, faultEnv, neitherAcceptedNorRefused, printOutputOnFailure, sendAndWait, sendMany, startRedis, texts
} from './faults.js'
import { call, createRoom, signUp } from './http-client.js'
import { settle } from './messaging-helper.js'

// Redis dies (SIGKILL, no persistence) holding accepted sends the worker has not stored yet, and comes back empty
// on the same address. A 202 was a promise: each of those sends is still stored, once. While Redis is away, sends
// are refused quickly and plainly (503 problem+json), never left hanging.
t.setTimeout(300_000)

let redis = await startRedis()
const env = { ...faultEnv, REDIS_URL: redis.url }
const config = await testConfig(t)
const db = testDb(t, config)
const api = await startApi(config, env)
// Two at a time, so the worker falls behind the burst and Redis dies holding sends not yet stored.
const worker = startWorker(config, { ...env, WORKER_CONCURRENCY: '2' })
t.teardown(async () => {
  await Promise.all([api.stop(), worker.kill()])
  await redis.kill()
})
printOutputOnFailure(t, () => ({ api, worker }))

t.test('Redis killed in a burst and restarted empty: every 202 stored once, sends in between refused with a 503', async (t) => {
  const cid = await signUp(api, 'cid_restart')
  const roomId = await createRoom(api, cid, 'redis restarts')

  const warmUp = await sendAndWait(api, cid, roomId, 'the worker is up')

  const before = sendMany(api, cid, roomId, texts('before the crash', 600), 20)
  await eventually(async () => before.accepted(), (n) => n >= 200, 120_000)
  await eventually(() => countMessages(db, roomId), (n) => n >= 20, 120_000)
  await redis.kill()
  const storedAtCrash = await countMessages(db, roomId)
  // The outage lasts until sends have met it.
  await eventually(async () => before.soFar().filter((sent) => sent.status !== 202).length, (n) => n >= 20, 60_000)
  const first = await before.results
  t.ok(acceptedOf(first).length > storedAtCrash, `Redis died holding accepted sends not stored yet (${acceptedOf(first).length} accepted, ${storedAtCrash} stored)`)
  t.ok(first.some((sent) => sent.status === 503), 'sends met the outage')
  t.same(neitherAcceptedNorRefused(first), [], 'each send answered 202, or 503 problem+json QUEUE_UNAVAILABLE: none hung, none failed otherwise')

  redis = await startRedis(redis.port)
  const ready = await settle(() => call(api, 'GET', '/health/ready').catch(() => undefined), (answer) => answer?.status === 200, 60_000)
  t.equal(ready?.status, 200, 'the API is ready again once Redis is back')
  const after = await sendMany(api, cid, roomId, texts('after the restart', 100), 20).results
  t.equal(acceptedOf(after).length, 100, 'with Redis back, every send is accepted')

  const accepted = [warmUp, ...acceptedOf(first), ...acceptedOf(after)]
  await assertEachAcceptedStoredOnce(t, { api, db, sender: cid, roomId, accepted, within: 60_000 })
})
