import t from 'tap'
import { startApi, startWorker, type PigeonProcess } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { testDb } from './helper.js'
import { countMessages, eventually } from './messaging-helper.js'
import { acceptedOf, assertEachAcceptedStoredOnce, faultEnv, sendMany, startRedis, texts } from './faults.js'
import { createRoom, signUp } from './http-client.js'

// A worker process that crashes (SIGKILL: no graceful close, its jobs left active mid-flight, perhaps mid-transaction)
// loses no accepted send and stores none twice: BullMQ hands a crashed worker's jobs to the next one, and the unique
// task id settles a job that runs again after its message was committed.
t.setTimeout(400_000)

const redis = await startRedis()
const env = { ...faultEnv, REDIS_URL: redis.url }
const config = await testConfig(t)
const db = testDb(t, config)
const api = await startApi(config, env)
let worker: PigeonProcess = startWorker(config, env)
t.teardown(async () => {
  await Promise.all([api.stop(), worker.kill()])
  await redis.kill()
})

t.test('2,000 sends while the worker is killed twice: each stored once, seqs 1..2000, every task completed', async (t) => {
  const ann = await signUp(api, 'ann_crash')
  const roomId = await createRoom(api, ann, 'crashing workers')
  const burst = sendMany(api, ann, roomId, texts('through crashes', 2000), 50)

  for (const atAccepted of [500, 1200]) {
    await eventually(async () => burst.accepted(), (n) => n >= atAccepted, 120_000)
    // Killed while busy: this worker has stored some of the burst and holds more.
    const storedBefore = await countMessages(db, roomId)
    await eventually(() => countMessages(db, roomId), (n) => n >= storedBefore + 50, 120_000)
    await worker.kill()
    worker = startWorker(config, env)
  }

  const results = await burst.results
  const accepted = acceptedOf(results)
  t.equal(accepted.length, 2000, 'every send answered 202: a crashed worker is no reason to refuse one')
  await assertEachAcceptedStoredOnce(t, { api, db, sender: ann, roomId, accepted, within: 240_000 })
})
