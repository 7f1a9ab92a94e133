import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../api/build-app.js'
import type { Config } from '../core/config.js'
import { createDb, type Db } from '../core/db/connect.js'
import type { Teardown } from '../harness/test-config.js'
import { startWorkers, workerPoolSize } from '../worker/start-workers.js'
import type { Answer } from './http-client.js'
import { createContract, type Contract, type Document, type Exchange } from './openapi-contract.js'

export async function testApp (t: Teardown, config: Config): Promise<FastifyInstance> {
  const app = await buildApp(config)
  await app.ready()
  t.teardown(() => app.close())
  await checkEveryAnswer(app)
  return app
}

// The document is the same for every app a test file builds: read it once.
let contract: Promise<Contract> | undefined

/** Throws, failing the test that caused it, when an answer is not one the served OpenAPI document allows. */
export async function assertDocumented (exchange: Exchange): Promise<void> {
  if (contract === undefined) throw new Error('no OpenAPI document to check answers against')
  const found = (await contract).check(exchange)
  if (found.length > 0) {
    throw new Error(`${exchange.method} ${exchange.url} answered ${exchange.status}, which the OpenAPI document does not allow:\n- ${found.join('\n- ')}`)
  }
}

/** Every `app.inject` answer is checked against the document the app serves at /openapi.json. */
async function checkEveryAnswer (app: FastifyInstance): Promise<void> {
  const inject = app.inject.bind(app)
  const readDocument = async () => (await inject({ url: '/openapi.json' })).json<Document>()
  contract ??= readDocument().then(createContract)
  await contract
  app.inject = (async (options: InjectOptions | string) => {
    const response = await inject(options)
    const { method = 'GET', url = '/' } = response.raw.req
    await assertDocumented({ method, url, status: response.statusCode, headers: response.headers, body: response.body })
    return response
  }) as FastifyInstance['inject']
}

/** `fetch`, for a test that talks to a listening API, with the answer checked against the document it serves. */
export async function checkedFetch (url: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(url, init)
  const readDocument = async () => await (await fetch(new URL('/openapi.json', url))).json() as Document
  contract ??= readDocument().then(createContract)
  await assertDocumented({
    method: init?.method ?? 'GET',
    url,
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.clone().text()
  })
  return response
}

export function testDb (t: Teardown, config: Config): Db {
  const db = createDb(config.DATABASE_URL, { max: 4 })
  t.teardown(() => db.destroy())
  return db
}

/** Real BullMQ workers on this file's queues, closed at teardown. */
export function testWorkers (t: Teardown, config: Config): void {
  const db = createDb(config.DATABASE_URL, { max: workerPoolSize(config) })
  const silent = { debug () {}, info () {}, warn () {}, error () {} }
  const workers = startWorkers({ config, db, log: silent })
  t.teardown(async () => {
    await workers.close()
    await db.destroy()
  })
}

export interface TestUser {
  id: number
  username: string
  password: string
  accessToken: string
  refreshToken: string
  auth: { authorization: string }
}

/** Registers a user through the API and logs in. */
export async function createUser (app: FastifyInstance, username: string, password = 'Passw0rd!'): Promise<TestUser> {
  const registered = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username, password } })
  if (registered.statusCode !== 201) throw new Error(`register ${username}: ${registered.statusCode} ${registered.body}`)
  const tokens = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username, password } })
  if (tokens.statusCode !== 200) throw new Error(`login ${username}: ${tokens.statusCode} ${tokens.body}`)
  const { accessToken, refreshToken } = tokens.json()
  return { id: registered.json().id, username, password, accessToken, refreshToken, auth: { authorization: `Bearer ${accessToken}` } }
}

/** A problem+json answer of this status, with no stack trace in it: an `app.inject` response or a `call` answer. */
export function isProblem (answer: LightMyRequestResponse | Answer, status: number): boolean {
  const [actual, contentType, body] = 'statusCode' in answer
    ? [answer.statusCode, String(answer.headers['content-type']), answer.json()]
    : [answer.status, answer.contentType, answer.body]
  return actual === status && contentType.startsWith('application/problem+json') &&
    body?.status === status && typeof body?.title === 'string' && typeof body?.type === 'string' &&
    !JSON.stringify(body).includes('    at ')
}
