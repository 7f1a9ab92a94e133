import t from 'tap'
import { startApi } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { call, createRoom, signUp } from './http-client.js'
import { eventually } from './messaging-helper.js'
import { openSocket, type Frame } from './socket-client.js'

// Two API processes on one Redis: presence and typing cross them on the rooms' wake-up channels.
const config = await testConfig(t)
const overrides = { PRESENCE_WINDOW_SECONDS: '2', TYPING_LIMIT_PER_USER: '100000' }
const [first, second] = await Promise.all([startApi(config, overrides), startApi(config, overrides)])
t.teardown(async () => { await Promise.all([first.stop(), second.stop()]) })

t.test('typing reaches a socket on the other instance; presence is the same from both, and a crashed instance stops counting', async (t) => {
  const [alice, bob, carol] = [await signUp(first, 'alice_pres'), await signUp(first, 'bob_pres'), await signUp(first, 'carol_pres')]
  const roomId = await createRoom(first, alice, 'across', [bob])
  const bobSocket = await openSocket(`${second.url.replace('http', 'ws')}/v1/ws`, ['pigeon.v1', `bearer.${bob.token}`])
  t.teardown(() => bobSocket.socket.terminate())
  await bobSocket.next((frame) => frame.type === 'ready')

  const typingOf = (typing: boolean) => (frame: Frame) => frame.type === 'typing' && frame.data.userId === alice.id && frame.data.typing === typing
  // Typed through the first instance until bob's socket on the second has subscribed the room.
  await eventually(async () => {
    t.equal((await call(first, 'POST', `/v1/rooms/${roomId}/typing`, { token: alice.token, body: { typing: true } })).status, 204)
    return bobSocket.queued(typingOf(true)).length
  }, (count) => count > 0)
  t.match((await bobSocket.next(typingOf(true))).data, { roomId, userId: alice.id, typing: true })
  t.equal((await call(second, 'POST', `/v1/rooms/${roomId}/typing`, { token: carol.token, body: { typing: true } })).body?.code, 'JOIN_REQUIRED', 'members only (a public room: join first)')

  const crashing = await startApi(config, overrides)
  const aliceSocket = await openSocket(`${crashing.url.replace('http', 'ws')}/v1/ws`, ['pigeon.v1', `bearer.${alice.token}`])
  await aliceSocket.next((frame) => frame.type === 'ready')
  aliceSocket.socket.send(JSON.stringify({ type: 'typing', roomId, typing: false }))
  await bobSocket.next(typingOf(false))
  await bobSocket.next((frame) => frame.type === 'presence.changed' && frame.data.userId === alice.id && frame.data.presence === 'online')
  for (const api of [first, second]) t.match((await call(api, 'GET', `/v1/users/${alice.id}`, { token: carol.token })).body, { presence: 'online', lastActiveAt: String })

  await crashing.kill()
  aliceSocket.socket.terminate()
  const gone = await eventually(async () => (await call(second, 'GET', `/v1/users/${alice.id}`, { token: carol.token })).body, (user) => user.presence === 'offline', 15_000)
  t.match(gone, { presence: 'offline', lastActiveAt: String }, 'offline once the window passed without the crashed instance renewing it')
  t.equal((await call(first, 'GET', `/v1/users/${alice.id}`, { token: carol.token })).body.presence, 'offline', 'the same from the other instance')
})
