import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker } from '../../harness/processes.js'
import { call, signUp } from '../http-client.js'
import { openSocket } from '../socket-client.js'
import { openSse } from '../sse-client.js'

/**
 * Two API processes and `workers` worker processes: a send taken by one API reaches an event stream and a WebSocket
 * held by the other, through the same Redis wake-ups as long polls; a request over the socket lands on whichever API
 * holds it.
 */
export async function pushMultiProcess (t: Test, config: Config, { workers }: { workers: number }): Promise<void> {
  const [first, second] = await Promise.all([startApi(config), startApi(config)])
  const running = Array.from({ length: workers }, () => startWorker(config))
  t.teardown(async () => { await Promise.all([first.stop(), second.stop(), ...running.map((worker) => worker.stop())]) })

  t.test('a message sent through one API is pushed by the other over SSE and WebSocket', async (t) => {
    const [alice, bob] = [await signUp(first, 'alice_push', { loginAt: second }), await signUp(first, 'bob_push', { loginAt: second })]
    const room = await call(second, 'POST', '/v1/rooms', { token: alice.token, body: { name: 'across', memberIds: [bob.id] } })
    t.equal(room.status, 201)

    const events = await openSse(`${first.url}/v1/events?seconds=60`, { authorization: `Bearer ${bob.token}` })
    t.teardown(events.close)
    t.equal(events.status, 200)
    const socket = await openSocket(`${first.url.replace('http', 'ws')}/v1/ws`, ['pigeon.v1', `bearer.${bob.token}`])
    t.teardown(() => socket.socket.terminate())
    t.match(await socket.next(), { type: 'ready', userId: bob.id })

    const aliceSocket = await openSocket(`${second.url.replace('http', 'ws')}/v1/ws`, ['pigeon.v1', `bearer.${alice.token}`])
    t.teardown(() => aliceSocket.socket.terminate())
    await aliceSocket.next()
    const sent = await aliceSocket.request({ method: 'POST', path: `/v1/rooms/${room.body.id}/messages`, body: { text: 'from API #2' } })
    t.equal(sent.status, 202)

    // Alice's socket brings her online: bob's stream is told (presence.changed) before or after the message.
    const event = await events.nextEvent('message.created')
    t.equal(event?.event, 'message.created')
    t.match(JSON.parse(event?.data ?? '{}'), { roomId: room.body.id, seq: 1, senderId: alice.id, text: 'from API #2' })
    t.match((await socket.next((frame) => frame.type === 'message.created')).data, { roomId: room.body.id, seq: 1, text: 'from API #2' })
    t.match((await aliceSocket.next((frame) => frame.type === 'task.finished')).data, { state: 'completed', result: { seq: 1 } })
  })
}
