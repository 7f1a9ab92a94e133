import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker } from '../../harness/processes.js'
import { faultEnv, finishedTask, hostAndPort, printOutputOnFailure, send, startTcpProxy, throughProxy } from '../faults.js'
import { call, createRoom, signUp } from '../http-client.js'
import { settle } from '../messaging-helper.js'

/**
 * Started in the wrong order (the API and the worker before Postgres and Redis, as a container platform may do), a
 * deployment says it is not ready, and becomes ready by itself once they come up: no restart needed. `config` names
 * a Redis that is not there yet; `startRedis` brings it up and gives back how to stop it.
 */
export async function faultStartOrder (t: Test, config: Config, startRedis: () => Promise<() => Promise<void>>): Promise<void> {
  // testConfig migrated the database directly: only the Pigeon processes go through the proxy, which refuses them for now.
  const proxy = await startTcpProxy(hostAndPort(config.DATABASE_URL, 5432), { accepting: false })
  const env = { ...faultEnv, DATABASE_URL: throughProxy(config.DATABASE_URL, proxy) }
  const api = await startApi(config, env, { waitFor: 'live', within: 60_000 })
  const worker = startWorker(config, env)
  let stopRedis: (() => Promise<void>) | undefined
  t.teardown(async () => {
    await Promise.all([api.stop(), worker.kill()])
    await Promise.all([proxy.close(), stopRedis?.()])
  })
  printOutputOnFailure(t, () => ({ api, worker }))

  t.test('not ready while Postgres and Redis are away; ready, and sending, once they come up', async (t) => {
    const early = await call(api, 'GET', '/health/ready')
    t.equal(early.status, 503, 'not ready')
    t.match(early.body, { status: 'down', postgres: 'down', redis: 'down' }, 'and it says which are down')

    stopRedis = await startRedis()
    proxy.restore()
    const ready = await settle(() => call(api, 'GET', '/health/ready').catch(() => undefined), (answer) => answer?.status === 200, 60_000)
    t.equal(ready?.status, 200, 'ready once both are up, without a restart')
    t.match(ready?.body, { status: 'ok', postgres: 'ok', redis: 'ok' }, 'and says both are ok')

    const eva = await signUp(api, 'eva_order')
    const roomId = await createRoom(api, eva, 'late start')
    const sent = await send(api, eva, roomId, 'made it')
    t.equal(sent.status, 202, `the send is accepted (${sent.status} ${JSON.stringify(sent.body)})`)
    if (sent.taskId === undefined) return
    const task = await finishedTask(api, eva, sent.taskId)
    t.match(task, { status: 200, body: { state: 'completed', result: { roomId, seq: 1, text: 'made it' } } }, 'and the worker stores it')
  })
}
