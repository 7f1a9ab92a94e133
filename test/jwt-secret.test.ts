import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../core/config.js'
import { testConfig } from '../harness/test-config.js'
import { createUser, testApp } from './helper.js'

// Without JWT_SECRET a process keeps its signing secret in a file, so a restart does not log everyone out.
const dir = await mkdtemp(path.join(tmpdir(), 'pigeon-jwt-secret-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

t.test('the first start makes the file, owner-only; the next starts read it', async (t) => {
  const file = path.join(dir, 'first')
  const first = loadConfig({ JWT_SECRET_FILE: file })
  t.equal(first.jwtSecretSource, 'file')
  t.equal(first.JWT_SECRET, (await readFile(file, 'utf8')).trim(), 'the secret is the file\'s')
  t.ok(first.JWT_SECRET.length >= 32, 'and long')
  t.equal((await stat(file)).mode & 0o777, 0o600, 'only its owner may read it')
  t.equal(loadConfig({ JWT_SECRET_FILE: file }).JWT_SECRET, first.JWT_SECRET, 'a restart signs with the same secret')
})

t.test('JWT_SECRET wins, and leaves no file', async (t) => {
  const file = path.join(dir, 'unused')
  const config = loadConfig({ JWT_SECRET: 'set-by-the-operator', JWT_SECRET_FILE: file })
  t.match(config, { JWT_SECRET: 'set-by-the-operator', jwtSecretSource: 'environment' })
  await t.rejects(stat(file), { code: 'ENOENT' })
})

t.test('with no file to keep it in, each process makes its own', async (t) => {
  for (const env of [{ JWT_SECRET_FILE: '' }, { JWT_SECRET_FILE: path.join(dir, 'no-such-directory', 'secret') }]) {
    const [one, two] = [loadConfig(env), loadConfig(env)]
    t.equal(one.jwtSecretSource, 'random', JSON.stringify(env))
    t.not(one.JWT_SECRET, two.JWT_SECRET)
  }
})

t.test('a token from before a restart still works after it', async (t) => {
  const file = path.join(dir, 'restart')
  const config = await testConfig(t, { JWT_SECRET: '', JWT_SECRET_FILE: file })
  const before = await testApp(t, config)
  const ada = await createUser(before, 'ada')
  await before.close()

  const after = await testApp(t, { ...config, JWT_SECRET: loadConfig({ JWT_SECRET_FILE: file }).JWT_SECRET })
  const me = await after.inject({ url: '/v1/users/me', headers: ada.auth })
  t.equal(me.statusCode, 200, 'the access token is accepted')
  const refreshed = await after.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: ada.refreshToken } })
  t.equal(refreshed.statusCode, 200, 'and so is the refresh token')
})
