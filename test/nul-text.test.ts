import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, isProblem, testApp } from './helper.js'

// Postgres text cannot hold U+0000: every field that reaches a text column refuses it up front (400, never 500).
const config = await testConfig(t)
const app = await testApp(t, config)
const ada = await createUser(app, 'ada_nul')

t.test('user fields refuse a NUL character', async (t) => {
  for (const payload of [{ displayName: 'Ada\u0000' }, { statusMessage: 'away\u0000' }]) {
    const response = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: ada.auth, payload })
    t.ok(isProblem(response, 400), `PATCH ${Object.keys(payload)[0]}`)
  }
  const blankStatus = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: ada.auth, payload: { statusMessage: '' } })
  t.equal(blankStatus.statusCode, 200, 'an empty status message still clears it')

  const register = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username: 'bob_nul', password: 'Passw0rd!', displayName: 'B\u0000b' } })
  t.ok(isProblem(register, 400), 'register displayName')
  const login = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: 'ada\u0000', password: 'Passw0rd!' } })
  t.ok(isProblem(login, 400), 'log in with a NUL in the username')
})
