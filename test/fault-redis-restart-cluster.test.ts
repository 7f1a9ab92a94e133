import t from 'tap'
import { bullPrefix, queueNames } from '../core/queue.js'
import { startApi, startWorker } from '../harness/processes.js'
import { startRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import {
  acceptedOf, assertEachAcceptedStoredOnce, faultEnv, neitherAcceptedNorRefused, printOutputOnFailure, sendAndWait, sendMany, texts
} from './faults.js'
import { testDb } from './helper.js'
import { call, createRoom, signUp } from './http-client.js'
import { countMessages, eventually, settle } from './messaging-helper.js'

// The master of a Redis Cluster that holds the send queue dies (SIGKILL, no persistence, no replica to take over)
// with accepted sends the worker has not stored yet, and comes back empty with its slots: a 202 was a promise, and
// each of those sends is still stored, once. While that master is down, a send is accepted (its task is in Postgres;
// the reconciler hands it over) or refused with a plain 503, never left hanging. test/fault-redis-restart.test.ts
// does this to one Redis.
t.setTimeout(300_000)

// A cluster of the test's own, never the shared one (TEST_REDIS_CLUSTER_NODES): the test kills one of its masters.
const cluster = await startRedisCluster()
t.teardown(cluster.stop)
const config = await testConfig(t, { REDIS_CLUSTER_NODES: cluster.nodes })
const db = testDb(t, config)
const api = await startApi(config, faultEnv)
// Two at a time, so the worker falls behind the burst and the master dies holding sends not yet stored.
const worker = startWorker(config, { ...faultEnv, WORKER_CONCURRENCY: '2' })
t.teardown(async () => { await Promise.all([api.stop(), worker.kill()]) })
printOutputOnFailure(t, () => ({ api, worker }))

t.test('the send queue\'s master killed in a burst and restarted empty: every 202 stored once', async (t) => {
  const cid = await signUp(api, 'cid_cluster_restart')
  const roomId = await createRoom(api, cid, 'a master restarts')
  const warmUp = await sendAndWait(api, cid, roomId, 'the worker is up')
  const queueMaster = await cluster.masterOf(bullPrefix(config.REDIS_PREFIX, queueNames.tasks))

  const before = sendMany(api, cid, roomId, texts('before the crash', 300), 20)
  await eventually(async () => before.accepted(), (n) => n >= 100, 120_000)
  await eventually(() => countMessages(db, roomId), (n) => n >= 10, 120_000)
  const acceptedAtCrash = before.accepted()
  await cluster.crash(queueMaster)
  const storedAtCrash = await countMessages(db, roomId)
  t.ok(acceptedAtCrash > storedAtCrash, `the master died holding accepted sends not stored yet (${acceptedAtCrash} accepted, ${storedAtCrash} stored)`)

  // Sent while the cluster reports the master's slots down.
  const during = await sendMany(api, cid, roomId, texts('while a master is down', 40), 20).results
  t.same(neitherAcceptedNorRefused(during), [], `each send during the outage answered 202, or 503 problem+json QUEUE_UNAVAILABLE: none hung (${acceptedOf(during).length} of 40 accepted)`)

  await cluster.revive(queueMaster)
  const first = await before.results
  t.same(neitherAcceptedNorRefused(first), [], 'each send of the burst answered 202, or 503 problem+json QUEUE_UNAVAILABLE')
  const ready = await settle(() => call(api, 'GET', '/health/ready').catch(() => undefined), (answer) => answer?.status === 200, 60_000)
  t.equal(ready?.status, 200, 'the API is ready once the cluster is whole again')
  const after = await sendMany(api, cid, roomId, texts('after the restart', 50), 20).results
  t.equal(acceptedOf(after).length, 50, 'with the master back, every send is accepted')

  const accepted = [warmUp, ...acceptedOf(first), ...acceptedOf(during), ...acceptedOf(after)]
  await assertEachAcceptedStoredOnce(t, { api, db, sender: cid, roomId, accepted, within: 120_000 })
})
