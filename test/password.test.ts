import t from 'tap'
import { hashPassword, verifyPassword } from '../core/password.js'

t.test('a hash verifies its own password and no other', async (t) => {
  const stored = await hashPassword('correct-horse-9')
  t.equal(await verifyPassword('correct-horse-9', stored), true)
  t.equal(await verifyPassword('correct-horse-8', stored), false)
  t.equal(await verifyPassword('CORRECT-HORSE-9', stored), false)
  t.equal(await verifyPassword('', stored), false)
})

t.test('hashes are self-describing scrypt hashes, salted per call', async (t) => {
  const first = await hashPassword('same-password')
  const second = await hashPassword('same-password')
  t.match(first, /^scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]+$/)
  t.not(first, second)
  t.notOk(first.includes('same-password'))
  t.equal(await verifyPassword('same-password', second), true)
})

t.test('a password typed in another Unicode normal form still matches', async (t) => {
  const composed = 'caf\u00e9-cr\u00e8me'
  const decomposed = composed.normalize('NFD')
  t.not(composed, decomposed)
  t.equal(await verifyPassword(decomposed, await hashPassword(composed)), true)
})

t.test('a stored value that is not a usable hash refuses every password', async (t) => {
  const [, N, r, p, salt, key] = (await hashPassword('Passw0rd!')).split('$')
  const damaged = {
    empty: '',
    'a plain password': 'Passw0rd!',
    'another scheme': `bcrypt$${N}$${r}$${p}$${salt}$${key}`,
    'no key': `scrypt$${N}$${r}$${p}$${salt}`,
    'an empty key': `scrypt$${N}$${r}$${p}$${salt}$`,
    'a key that is not base64url': `scrypt$${N}$${r}$${p}$${salt}$!!!!`
  }
  for (const [why, stored] of Object.entries(damaged)) {
    t.equal(await verifyPassword('Passw0rd!', stored), false, `${why}: the right password`)
    t.equal(await verifyPassword('anything-else', stored), false, `${why}: any password`)
  }
})
