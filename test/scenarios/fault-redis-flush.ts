import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker, type PigeonProcess } from '../../harness/processes.js'
import { assertEachAcceptedStoredOnce, faultEnv, printOutputOnFailure, send, texts, type Accepted } from '../faults.js'
import { testDb } from '../helper.js'
import { call, createRoom, signUp } from '../http-client.js'

/**
 * Redis loses everything (`flush`: a failover to an empty replica, an operator's slip) while accepted sends wait for a
 * worker. Each task still answers, a retry with its Idempotency-Key still gets the same task, and once a worker runs
 * each send is stored exactly once, whether its client retried or not.
 */
export async function faultRedisFlush (t: Test, config: Config, flush: () => Promise<void>): Promise<void> {
  const db = testDb(t, config)
  const api = await startApi(config, faultEnv)
  let worker: PigeonProcess | undefined
  t.teardown(async () => { await Promise.all([api.stop(), worker?.kill()]) })
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

    await flush()

    const tasks = await Promise.all(accepted.map((sent) => call(api, 'GET', `/v1/tasks/${sent.taskId}`, { token: dot.token })))
    t.same(tasks.map((task) => ({ status: task.status, state: task.body?.state })), accepted.map(() => ({ status: 200, state: 'queued' })),
      'every task still answers, queued: Redis was not where it was kept')

    const retries = await Promise.all(retried.map(({ text, key }) => send(api, dot, roomId, text, { 'idempotency-key': key })))
    t.same(retries.map((sent) => ({ status: sent.status, taskId: sent.taskId })), accepted.slice(0, 5).map((sent) => ({ status: 202, taskId: sent.taskId })),
      'a retry with the same key and body answers 202 with the same task')

    worker = startWorker(config, faultEnv)
    await assertEachAcceptedStoredOnce(t, { api, db, sender: dot, roomId, accepted, within: 60_000 })
  })
}
