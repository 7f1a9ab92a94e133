import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/** scrypt's cost: N (CPU and memory), r (block size), p (parallelism). */
export interface ScryptCost { N: number, r: number, p: number }

const defaultCost: ScryptCost = { N: 16384, r: 8, p: 1 }
const keyLength = 64

function derive (password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, options, (error, key) => error ? reject(error) : resolve(key))
  })
}

/**
 * A self-describing hash, scrypt$N$r$p$salt$key, so the parameters can grow without a migration. A lower `cost`
 * is for seeding many users where logging them in must be quick (the benches); users get the default.
 */
export async function hashPassword (password: string, cost: ScryptCost = defaultCost): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, keyLength, cost)
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const [scheme, N, r, p, salt, key] = stored.split('$')
  if (scheme !== 'scrypt' || salt === undefined || key === undefined) return false
  const expected = Buffer.from(key, 'base64url')
  // A damaged hash with no key would match every password: fail closed.
  if (expected.length === 0) return false
  const actual = await derive(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(N), r: Number(r), p: Number(p) })
  return timingSafeEqual(actual, expected)
}
