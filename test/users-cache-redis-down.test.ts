import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { spawnTied, type TiedChild } from '../harness/tied-child.js'
import { createUser, testApp } from './helper.js'

// Like production (docker-compose.yml), this Redis keeps its data in an append-only file across a restart.
const redisDir = await mkdtemp(path.join(tmpdir(), 'pigeon-redis-'))
t.teardown(() => rm(redisDir, { recursive: true, force: true }))

/** A private redis-server on a free port, so this file can stop it without touching anyone else's. */
async function startRedis (port?: number): Promise<{ port: number, server: TiedChild }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const tryPort = port ?? 20_000 + Math.floor(Math.random() * 20_000)
    const args = ['--port', String(tryPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always']
    const server = spawnTied('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const { child } = server
    const ready = await new Promise<boolean>((resolve) => {
      let output = ''
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) resolve(true)
      })
      child.once('exit', () => resolve(false))
    })
    if (ready) return { port: tryPort, server }
    if (port !== undefined) await sleep(100)
  }
  throw new Error('could not start a redis-server')
}

const redis = await startRedis()
t.teardown(() => redis.server.stop())

const config = await testConfig(t, { REDIS_URL: `redis://127.0.0.1:${redis.port}` })
const app = await testApp(t, config)
const alice = await createUser(app, 'alice')
const bob = await createUser(app, 'bob')

function list () {
  return app.inject({ method: 'GET', url: '/v1/users', headers: alice.auth })
}

t.test('with Redis up, the list is cached', async (t) => {
  t.equal((await list()).headers['x-cache'], 'miss')
  const hit = await list()
  t.equal(hit.statusCode, 200)
  t.equal(hit.headers['x-cache'], 'hit')
  t.equal(hit.json().items.length, 2)
})

t.test('with Redis down, users are still served from Postgres, without waiting for Redis', async (t) => {
  // Redis stays down for this whole test: a call that waited for it to come back would never answer.
  await redis.server.stop()

  const res = await list()
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-cache'], 'miss')
  t.same(res.json().items.map((user: { username: string }) => user.username), ['alice', 'bob'])

  const again = await list()
  t.equal(again.headers['x-cache'], 'miss', 'nothing is cached while Redis is away')
  t.ok(again.headers.etag, 'still an ETag')
  const notModified = await app.inject({ method: 'GET', url: '/v1/users', headers: { ...alice.auth, 'if-none-match': String(again.headers.etag) } })
  t.equal(notModified.statusCode, 304, 'and If-None-Match still works')

  const carol = await createUser(app, 'carol')
  const patched = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: bob.auth, payload: { status: 'busy', statusMessage: 'Redis is down' } })
  t.equal(patched.statusCode, 200, 'PATCH works')

  const after = await list()
  t.equal(after.statusCode, 200)
  t.same(after.json().items.map((user: { id: number, status: string }) => [user.id, user.status]),
    [[alice.id, 'offline'], [bob.id, 'busy'], [carol.id, 'offline']], 'registration and PATCH show at once')
  t.equal((await app.inject({ method: 'GET', url: `/v1/users/${carol.id}`, headers: carol.auth })).statusCode, 200)
})

t.test('when Redis comes back with its old data, the list shows what changed meanwhile, then is cached again', async (t) => {
  const restarted = await startRedis(redis.port)
  t.teardown(() => restarted.server.stop())

  // Before this process has reconnected, the list still comes from Postgres; after, the stale pages must not be served.
  for (let i = 0; i < 15; i++) {
    const res = await list()
    t.same(res.json().items.map((user: { username: string, status: string }) => [user.username, user.status]),
      [['alice', 'offline'], ['bob', 'busy'], ['carol', 'offline']], `not the list from before the outage (${String(res.headers['x-cache'])})`)
    await sleep(200)
  }

  const deadline = Date.now() + 10_000
  let cache: unknown
  while (Date.now() < deadline) {
    const res = await list()
    t.equal(res.statusCode, 200)
    cache = res.headers['x-cache']
    if (cache === 'hit') break
    await sleep(200)
  }
  t.equal(cache, 'hit', 'cached once Redis is reachable')
  t.equal((await list()).json().items.length, 3, 'with the current users')
})
