import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker, type ApiProcess } from '../../harness/processes.js'
import { call, createRoom, signUp, type Answer } from '../http-client.js'

/**
 * Two API processes answer finished tasks from the cache while the task's message is edited, edited again and
 * deleted through the other one: on the very next read after each change's task completed, every task that shows
 * the message (its send and its changes) answers the change on both instances, however the reads raced the change,
 * and the deleted text is answered nowhere.
 */
export async function taskCacheMultiProcess (t: Test, config: Config): Promise<void> {
  const apis = await Promise.all([startApi(config), startApi(config)])
  const [first, second] = apis as [ApiProcess, ApiProcess]
  const worker = startWorker(config)
  t.teardown(async () => { await Promise.all([first.stop(), second.stop(), worker.stop()]) })

  const alice = await signUp(first, 'alice_cache', { loginAt: second })
  const roomId = await createRoom(first, alice, 'cached tasks')
  const read = async (api: ApiProcess, taskId: string, headers: Record<string, string> = {}): Promise<Answer> =>
    await call(api, 'GET', `/v1/tasks/${taskId}`, { token: alice.token, headers })

  /** Accepted on one API, waited for on the other: the finished task. */
  async function run (n: number, method: string, path: string, body?: unknown): Promise<string> {
    const accepted = await call(apis[n % 2] as ApiProcess, method, path, { token: alice.token, body })
    if (accepted.status !== 202) throw new Error(`${method} ${path}: ${accepted.status} ${JSON.stringify(accepted.body)}`)
    for (;;) {
      const task = await call(apis[(n + 1) % 2] as ApiProcess, 'GET', `/v1/tasks/${accepted.body.taskId}?wait=10`, { token: alice.token })
      if (task.body.state === 'completed') return accepted.body.taskId
      if (task.body.state === 'failed') throw new Error(`task failed: ${JSON.stringify(task.body.error)}`)
    }
  }

  const sendTask = await run(0, 'POST', `/v1/rooms/${roomId}/messages`, { text: 'first words' })
  const messageId: number = (await read(first, sendTask)).body.result.id
  const tasks = [sendTask]

  t.test('a finished task is tagged, and its tag gets 304 on either instance', async (t) => {
    const answers = [await read(first, sendTask), await read(second, sendTask), await read(first, sendTask)]
    t.same(answers.map((answer) => answer.body.result.text), ['first words', 'first words', 'first words'])
    const etag = answers[0]?.etag
    t.match(etag, /^W\/"/, 'a weak tag')
    t.same(answers.map((answer) => answer.etag), [etag, etag, etag], 'the same tag from both instances, cached or not')
    for (const api of apis) t.equal((await read(api, sendTask, { 'if-none-match': etag as string })).status, 304)
    t.equal((await call(first, 'GET', `/v1/tasks/${sendTask}`, { token: (await signUp(first, 'eve_cache')).token })).status, 404,
      'a cached task is still only its owner\'s')
  })

  // Readers that keep every task of the message cached (and try to cache what they read) while it changes.
  const changing = new AbortController()
  const readers = apis.map(async (api) => {
    while (!changing.signal.aborted) {
      for (const taskId of [...tasks]) await read(api, taskId)
    }
  })

  const changes = [
    { n: 1, method: 'PATCH', body: { text: 'second words' }, text: 'second words' },
    { n: 2, method: 'PATCH', body: { text: 'third words' }, text: 'third words' },
    { n: 3, method: 'DELETE', body: undefined, text: null }
  ]
  t.test('each change is answered by every task of the message, on both instances, on the next read', async (t) => {
    for (const change of changes) {
      const before = (await read(first, sendTask)).etag as string
      tasks.push(await run(change.n, change.method, `/v1/messages/${messageId}`, change.body))
      for (const api of apis) {
        for (const taskId of tasks) {
          const answer = await read(api, taskId, { 'if-none-match': before })
          t.equal(answer.status, 200, `${change.method} ${change.n}: the tag held before the change is not current`)
          t.equal(answer.body.result.text, change.text, `${change.method} ${change.n}: task ${tasks.indexOf(taskId)} on api ${apis.indexOf(api)}`)
        }
      }
    }
    changing.abort()
    await Promise.all(readers)
    const deletedAt = (await read(second, sendTask)).body.result.deletedAt
    t.ok(deletedAt, 'the delete is answered')
    for (const api of apis) {
      for (const taskId of tasks) {
        const answer = await read(api, taskId)
        t.notMatch(JSON.stringify(answer.body), /words/, 'no text of the deleted message is answered')
        t.equal(answer.body.result.deletedAt, deletedAt)
      }
    }
  })
}
