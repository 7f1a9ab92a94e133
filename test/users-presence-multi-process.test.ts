import t from 'tap'
import { startApi } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { call, signUp, type User } from './http-client.js'

// Two API processes on one Redis. Each keeps the users pages it answered, with their presence, for at most a second:
// a presence change shows at once on the instance that saw it, within that second on the other; a profile change, at once on both.
const config = await testConfig(t)
const [first, second] = await Promise.all([startApi(config), startApi(config)])
t.teardown(async () => { await Promise.all([first.stop(), second.stop()]) })

const lagMs = 1000

/** Calls `read` until it answers true; how long that took, from `since`. */
async function timeUntil (since: number, read: () => Promise<boolean>): Promise<number> {
  while (!await read()) {
    if (Date.now() - since > 10 * lagMs) throw new Error('never')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return Date.now() - since
}

t.test('the users list: a profile change shows at once on both, presence within a second on the one that did not see it', async (t) => {
  const [watcher, mover] = [await signUp(first, 'watcher_memo'), await signUp(first, 'mover_memo')]
  const listed = async (api: typeof first, who: User) => {
    const page = await call(api, 'GET', '/v1/users?limit=200', { token: watcher.token })
    t.equal(page.status, 200)
    return (page.body.items as Array<{ id: number, displayName: string, presence: string }>).find((user) => user.id === who.id)
  }
  for (const api of [first, second]) t.match(await listed(api, mover), { presence: 'offline' }, 'kept by both')

  t.equal((await call(first, 'PATCH', '/v1/users/me', { token: mover.token, body: { displayName: 'Moved' } })).status, 200)
  for (const api of [first, second]) t.match(await listed(api, mover), { displayName: 'Moved' }, 'a profile change: at once on both')
  for (const api of [first, second]) t.match(await listed(api, mover), { presence: 'offline' }, 'kept again by both')

  // The mover comes online through a long poll held by the first instance: it notices, the second does not.
  const poll = call(first, 'GET', '/v1/messages/unseen?wait=5', { token: mover.token })
  const started = Date.now()
  await timeUntil(started, async () => (await call(first, 'GET', `/v1/users/${mover.id}`, { token: watcher.token })).body.presence === 'online')
  const online = Date.now()
  t.match(await listed(first, mover), { presence: 'online' }, 'at once on the instance that saw it')
  const elsewhere = await timeUntil(online, async () => (await listed(second, mover))?.presence === 'online')
  t.ok(elsewhere <= lagMs + 500, `online in the other instance's list ${elsewhere} ms later`)
  await poll
})
