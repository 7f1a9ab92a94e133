import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { startApi, startWorker } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { testDb } from './helper.js'
import { countMessages, eventually } from './messaging-helper.js'
import {
  acceptedOf, assertEachAcceptedStoredOnce, faultEnv, hostAndPort, printOutputOnFailure, sendMany, startRedis, startTcpProxy, texts,
  throughProxy
} from './faults.js'
import { createRoom, signUp } from './http-client.js'

// Postgres away from the worker for longer than a job's retries last (a network partition, a failover): the sends
// accepted meanwhile wait and are stored once it is back. A transient failure is no reason to fail a task.
t.setTimeout(300_000)

const redis = await startRedis()
const config = await testConfig(t)
const db = testDb(t, config)
const proxy = await startTcpProxy(hostAndPort(config.DATABASE_URL, 5432))
// Only the worker goes through the proxy: the API keeps accepting sends throughout.
const api = await startApi(config, { ...faultEnv, REDIS_URL: redis.url })
const worker = startWorker(config, { ...faultEnv, REDIS_URL: redis.url, DATABASE_URL: throughProxy(config.DATABASE_URL, proxy) })
t.teardown(async () => {
  await Promise.all([api.stop(), worker.kill()])
  await Promise.all([proxy.close(), redis.kill()])
})
printOutputOnFailure(t, () => ({ api, worker }))

t.test('400 sends, the worker cut off from Postgres for 20 s: every task completes, none fails', async (t) => {
  const bea = await signUp(api, 'bea_cut')
  const roomId = await createRoom(api, bea, 'partition')
  const burst = sendMany(api, bea, roomId, texts('across a partition', 400), 20)

  // Cut once the worker is busy, so the outage catches jobs mid-flight as well as those still to come.
  await eventually(() => countMessages(db, roomId), (n) => n >= 50, 60_000)
  proxy.cut()
  // The fault itself: an outage longer than all of a job's retry backoffs together.
  await sleep(20_000)
  t.ok(await countMessages(db, roomId) < 400, 'the outage caught sends still to be stored')
  proxy.restore()

  const accepted = acceptedOf(await burst.results)
  t.equal(accepted.length, 400, 'every send answered 202: the API reaches Postgres and Redis')
  await assertEachAcceptedStoredOnce(t, { api, db, sender: bea, roomId, accepted, within: 60_000 })
})
