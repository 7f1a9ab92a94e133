import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker } from '../../harness/processes.js'
import {
  acceptedOf, assertEachAcceptedStoredOnce, faultEnv, hostAndPort, printOutputOnFailure, sendMany, startTcpProxy, texts, throughProxy
} from '../faults.js'
import { testDb } from '../helper.js'
import { createRoom, signUp } from '../http-client.js'
import { countMessages, eventually } from '../messaging-helper.js'

/**
 * Postgres away from the worker for longer than a job's retries last (a network partition, a failover): the sends
 * accepted meanwhile wait in the queue and are stored once it is back. A transient failure is no reason to fail a
 * task. `sends` of them, cut off once an eighth are stored.
 */
export async function faultPostgresCut (t: Test, config: Config, { sends }: { sends: number }): Promise<void> {
  const db = testDb(t, config)
  const proxy = await startTcpProxy(hostAndPort(config.DATABASE_URL, 5432))
  // Only the worker goes through the proxy: the API keeps accepting sends throughout.
  const api = await startApi(config, faultEnv)
  const worker = startWorker(config, { ...faultEnv, DATABASE_URL: throughProxy(config.DATABASE_URL, proxy) })
  t.teardown(async () => {
    await Promise.all([api.stop(), worker.kill()])
    await proxy.close()
  })
  printOutputOnFailure(t, () => ({ api, worker }))

  t.test(`${sends} sends, the worker cut off from Postgres for 20 s: every task completes, none fails`, async (t) => {
    const bea = await signUp(api, 'bea_cut')
    const roomId = await createRoom(api, bea, 'partition')
    const burst = sendMany(api, bea, roomId, texts('across a partition', sends), 20)

    // Cut once the worker is busy, so the outage catches jobs mid-flight as well as those still to come.
    await eventually(() => countMessages(db, roomId), (n) => n >= Math.round(sends / 8), 60_000)
    proxy.cut()
    // The fault itself: an outage longer than all of a job's retry backoffs together.
    await sleep(20_000)
    t.ok(await countMessages(db, roomId) < sends, 'the outage caught sends still to be stored')
    proxy.restore()

    const accepted = acceptedOf(await burst.results)
    t.equal(accepted.length, sends, 'every send answered 202: the API reaches Postgres and Redis')
    await assertEachAcceptedStoredOnce(t, { api, db, sender: bea, roomId, accepted, within: 120_000 })
  })
}
