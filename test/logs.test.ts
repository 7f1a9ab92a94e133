import t from 'tap'
import { startApi } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { openSocket } from './socket-client.js'

// A real API process, logging at info as in production: the test reads the lines it writes.
const config = await testConfig(t)
const api = await startApi(config, { LOG_LEVEL: 'info', BODY_LIMIT_BYTES: '1024' })
t.teardown(() => api.stop())

const logLines = () => api.output().split('\n').filter((line) => line.startsWith('{'))

/** The log lines that contain `text`, once there are at least `count` (a process writes its lines when it can). */
async function linesWith (text: string, count: number): Promise<string[]> {
  for (let tries = 0; tries < 200; tries++) {
    const lines = logLines().filter((line) => line.includes(text))
    if (lines.length >= count) return lines
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return logLines().filter((line) => line.includes(text))
}

t.test('the access token is redacted in every spelling of its parameter', async (t) => {
  for (const query of ['%61ccess_token=SECRET_ONE', 'access_token=decoy&access_token=SECRET_TWO', 'acc%65ss_tok%65n=SECRET_THREE&seconds=1']) {
    await (await fetch(`${api.url}/v1/events?${query}`)).text()
  }
  const requests = await linesWith('"url":"/v1/events', 3)
  t.ok(requests.length >= 3, 'the requests were logged')
  for (const secret of ['SECRET_ONE', 'SECRET_TWO', 'SECRET_THREE']) t.notOk(api.output().includes(secret), `${secret} is not in the logs`)
  t.ok(requests.some((line) => line.includes('%61ccess_token=[redacted]')), 'the parameter is kept, its value is not')
})

t.test('an oversized frame closes the socket and logs one warning line, without a stack', async (t) => {
  const credentials = { username: 'big_framer', password: 'Passw0rd!' }
  await fetch(`${api.url}/v1/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials) })
  const { accessToken } = await (await fetch(`${api.url}/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials) })).json() as { accessToken: string }
  const client = await openSocket(`${api.url.replace('http:', 'ws:')}/v1/ws`, ['pigeon.v1', `bearer.${accessToken}`])
  await client.next((frame) => frame.type === 'ready')
  client.socket.send('x'.repeat(20_000))
  t.equal(await client.closed, 1009, 'closed as too big')
  const lines = await linesWith('websocket closed on a client error', 1)
  t.equal(lines.length, 1, 'one line')
  t.match(JSON.parse(lines[0] ?? '{}'), { level: 40, code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' })
  t.notOk(api.output().includes('    at '), 'no stack anywhere')
  t.notOk(lines[0]?.includes('stack'), 'no stack in it')
})
