import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker, type PigeonProcess } from '../../harness/processes.js'
import { acceptedOf, assertEachAcceptedStoredOnce, faultEnv, sendMany, texts } from '../faults.js'
import { testDb } from '../helper.js'
import { createRoom, signUp } from '../http-client.js'
import { countMessages, eventually } from '../messaging-helper.js'

/**
 * A worker process that crashes (SIGKILL: no graceful close, its jobs left active mid-flight, perhaps mid-transaction)
 * loses no accepted send and stores none twice: BullMQ hands a crashed worker's jobs to the next one, and the unique
 * task id settles a job that runs again after its message was committed. `sends` of them, the worker killed twice.
 */
export async function faultWorkerKill (t: Test, config: Config, { sends }: { sends: number }): Promise<void> {
  const db = testDb(t, config)
  const api = await startApi(config, faultEnv)
  let worker: PigeonProcess = startWorker(config, faultEnv)
  t.teardown(async () => { await Promise.all([api.stop(), worker.kill()]) })

  t.test(`${sends} sends while the worker is killed twice: each stored once, seqs 1..${sends}, every task completed`, async (t) => {
    const ann = await signUp(api, 'ann_crash')
    const roomId = await createRoom(api, ann, 'crashing workers')
    const burst = sendMany(api, ann, roomId, texts('through crashes', sends), 50)

    // A quarter and three fifths of the way through the burst.
    for (const atAccepted of [Math.round(sends / 4), Math.round(sends * 3 / 5)]) {
      await eventually(async () => burst.accepted(), (n) => n >= atAccepted, 120_000)
      // Killed while busy: this worker has stored some of the burst and holds more.
      const storedBefore = await countMessages(db, roomId)
      await eventually(() => countMessages(db, roomId), (n) => n >= storedBefore + 50, 120_000)
      await worker.kill()
      worker = startWorker(config, faultEnv)
    }

    const results = await burst.results
    const accepted = acceptedOf(results)
    t.equal(accepted.length, sends, 'every send answered 202: a crashed worker is no reason to refuse one')
    await assertEachAcceptedStoredOnce(t, { api, db, sender: ann, roomId, accepted, within: 240_000 })
  })
}
