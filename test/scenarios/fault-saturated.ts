import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker, type ApiProcess } from '../../harness/processes.js'
import { faultEnv, printOutputOnFailure, sendAndWait, sendMany, startCpuBurners, texts } from '../faults.js'
import { call, createRoom, signUp, type User } from '../http-client.js'

/**
 * A machine with more work than cores (a noisy neighbour, a traffic peak): everything is slow, nothing is down. Slow
 * is no reason to refuse a send while Redis is up, and the long-poll feed still hands every receiver every message
 * exactly once. Two APIs (one sending, one receiving) and a worker, `sends` sends.
 */
export async function faultSaturated (t: Test, config: Config, { sends }: { sends: number }): Promise<void> {
  // More spinning processes than cores, started first: the deployment starts, and runs, on a saturated machine.
  const burners = startCpuBurners(3)
  t.teardown(() => burners.stop())
  const [receiving, sending] = await Promise.all([startApi(config, faultEnv, { within: 180_000 }), startApi(config, faultEnv, { within: 180_000 })])
  const worker = startWorker(config, faultEnv)
  t.teardown(async () => { await Promise.all([receiving.stop(), sending.stop(), worker.kill()]) })
  printOutputOnFailure(t, () => ({ receiving, sending, worker }))

  t.test(`saturated CPU: ${sends} sends all accepted, and each receiver gets each message exactly once`, async (t) => {
    const ida = await signUp(sending, 'ida_busy')
    const receivers = { jon: await signUp(sending, 'jon_busy'), kim: await signUp(sending, 'kim_busy') }
    const roomId = await createRoom(sending, ida, 'busy machine', Object.values(receivers))
    const warmUp = await sendAndWait(sending, ida, roomId, 'the worker is up', 120_000)
    const sent = [warmUp.text, ...texts('under load', sends)]

    const until = Date.now() + 300_000
    const feeds = Object.entries(receivers).map(async ([name, user]) => ({ name, received: await receive(receiving, user, sent.length, until) }))
    const results = await sendMany(sending, ida, roomId, sent.slice(1), 20).results
    t.same(results.filter((one) => one.status !== 202).map((one) => `${one.status} ${JSON.stringify(one.body)} ${one.error ?? ''}`), [],
      'every send answered 202: slow is not down')

    for (const { name, received } of await Promise.all(feeds)) {
      t.same(received.failures, [], `${name}'s polls all answered 200`)
      t.same(received.seqs, sent.map((_, i) => i + 1), `${name} got seqs 1..${sent.length}, in order, each once`)
      // Concurrent sends commit in any order: the texts are compared as sets, each exactly once.
      t.same([...received.texts].sort(), [...sent].sort(), `${name} got every message, once`)
    }
  })
}

interface Received {
  texts: string[]
  seqs: number[]
  /** Answers other than 200, or requests that got none. */
  failures: string[]
}

/** A client of the unseen feed: polls with its cursor until it has `expected` messages or `until` passes, then once more. */
async function receive (api: ApiProcess, user: User, expected: number, until: number): Promise<Received> {
  const received: Received = { texts: [], seqs: [], failures: [] }
  let cursor: string | undefined
  const poll = async (wait: number) => {
    const query = new URLSearchParams({ wait: String(wait), ...(cursor === undefined ? {} : { cursor }) })
    const page = await call(api, 'GET', `/v1/messages/unseen?${query.toString()}`, { token: user.token, abortAfter: 40_000 })
      .catch((error: unknown) => ({ status: 0, body: String(error) }))
    if (page.status !== 200) {
      received.failures.push(`${page.status} ${JSON.stringify(page.body)}`)
      return
    }
    for (const item of page.body.items) {
      received.texts.push(item.text)
      received.seqs.push(item.seq)
    }
    cursor = page.body.cursor
  }
  while (received.texts.length < expected && Date.now() < until) await poll(10)
  // Nothing comes twice: what the last cursor acknowledged is not handed out again.
  await poll(0)
  return received
}
