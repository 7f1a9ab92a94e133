// Generates the Postman collection and environment in postman/ from the OpenAPI document:
// `npm run postman`. test/postman-sync.test.ts fails when the committed files are out of date.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import converter from 'openapi-to-postmanv2'
import schemaFaker from 'openapi-to-postmanv2/assets/json-schema-faker.js'
import { openApiDocument } from './openapi.js'

export const postmanDir = fileURLToPath(new URL('../postman/', import.meta.url))
export const collectionFile = path.join(postmanDir, 'pigeon.postman_collection.json')
export const environmentFile = path.join(postmanDir, 'pigeon.postman_environment.json')

// Fixed, so the files only change when the API does, and a re-import replaces the earlier one.
const collectionId = '3f6c2a8e-5b1d-4c7e-9a40-7d2e6b1f9c01'
const environmentId = '3f6c2a8e-5b1d-4c7e-9a40-7d2e6b1f9c02'
const demoBaseUrl = 'http://localhost:3000'

interface Operation {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  security?: unknown[]
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
interface PostmanParam { key: string, value: string, disabled?: boolean, description?: unknown }
interface PostmanItem {
  id?: string
  name: string
  description?: unknown
  item?: PostmanItem[]
  request?: {
    name?: string
    description?: { content: string, type: string }
    method: string
    url: { path: string[], host: string[], query: PostmanParam[], variable: PostmanParam[] }
    header: PostmanParam[]
    body?: { mode?: string, raw?: string, options?: unknown }
    auth?: unknown
  }
  response?: Array<{ id?: string, code?: number }>
  event?: Array<{ listen: 'prerequest' | 'test', script: { type: string, exec: string[] } }>
}
interface PostmanCollection {
  info: { _postman_id?: string, name: string, schema: string, description?: unknown }
  item: PostmanItem[]
  variable: Array<{ key: string, value: string }>
  auth?: unknown
  event?: unknown[]
}
export interface PostmanEnvironment {
  id: string
  name: string
  values: Array<{ key: string, value: string, type: 'default' | 'secret', enabled: true }>
  _postman_variable_scope: 'environment'
}

// ---------------------------------------------------------------------------------------------
// The walk-through: every operation at least once, in an order where each step has what it needs.

/**
 * One request. Every step is tested for its operation's documented success status and, for JSON, its documented
 * schema; `checks` add what a schema cannot say. Values are Postman sandbox JavaScript, where `answer` is the JSON body.
 */
interface Step {
  operationId: string
  name: string
  /** Sent with the fresh user's token ({{newUserToken}}) instead of the collection's: a second person in the room. */
  asNewUser?: boolean
  path?: Record<string, string>
  /** The optional query parameters this step needs; every other one stays in the request, disabled, so the run shows that none is required. */
  query?: Record<string, string>
  body?: Json
  /** Environment variables set before the request is sent. */
  before?: Record<string, string>
  /** Test name → assertion. */
  checks?: Record<string, string>
  /** Environment variables kept for later steps, set after the checks. */
  save?: Record<string, string>
}

interface Folder { name: string, description: string, steps: Step[] }

const keepTokens = { accessToken: 'answer.accessToken', refreshToken: 'answer.refreshToken' }
const pointsToItsTask = {
  'points to its task': "pm.expect(pm.response.headers.get('Location')).to.eql(answer.statusUrl).and.eql('/v1/tasks/' + answer.taskId)"
}
const completed = { completed: "pm.expect(answer.state).to.eql('completed')" }
const changeToMyMessage = "answer.changes.find((m) => m.id === Number(pm.environment.get('messageId')))"

const walkThrough: Folder[] = [
  {
    name: '1. Health, metrics and the document',
    description: 'No token needed. Ready means Postgres and Redis both answer.',
    steps: [
      { operationId: 'live', name: 'Liveness' },
      {
        operationId: 'ready',
        name: 'Readiness',
        checks: { 'Postgres and Redis answer': "pm.expect(answer).to.include({ status: 'ok', postgres: 'ok', redis: 'ok' })" }
      },
      {
        operationId: 'metrics',
        name: 'Prometheus metrics',
        checks: { 'is Prometheus text': "pm.expect(pm.response.text()).to.include('# TYPE pigeon_http_request_duration_seconds histogram')" }
      },
      {
        operationId: 'openApiDocument',
        name: 'The OpenAPI document',
        checks: { 'is OpenAPI 3.1': 'pm.expect(answer.openapi).to.match(/^3\\.1\\./)' }
      },
      {
        operationId: 'asyncApiDocument',
        name: 'The AsyncAPI document of the push protocol',
        checks: {
          'is AsyncAPI 3.0': "pm.expect(answer.asyncapi).to.eql('3.0.0')",
          'describes the socket and the stream': "pm.expect(answer.channels).to.have.keys('socket', 'stream')"
        }
      }
    ]
  },
  {
    name: '2. Sign up and log in',
    description: 'Registers a fresh user (a new name every run), then logs in as the demo\'s {{username}} and keeps the tokens in the environment.',
    steps: [
      {
        operationId: 'register',
        name: 'Register a fresh user',
        // Within the 3–32 letters, digits, _ . - the API allows.
        before: { newUsername: "'pm_' + Date.now().toString(36) + Math.random().toString(36).slice(2, 6)" },
        body: { username: '{{newUsername}}', password: '{{password}}', displayName: 'Postman walk-through' },
        checks: { 'has the new name': "pm.expect(answer.username).to.eql(pm.environment.get('newUsername'))" },
        save: { newUserId: 'answer.id' }
      },
      {
        operationId: 'createToken',
        name: 'Log in as the demo user',
        body: { username: '{{username}}', password: '{{password}}' },
        save: keepTokens
      }
    ]
  },
  {
    name: '3. Users',
    description: 'Every request from here on sends the collection\'s bearer token, {{accessToken}}.',
    steps: [
      {
        operationId: 'listUsers',
        name: 'List users',
        checks: { 'lists the demo users': "pm.expect(answer.items.map((u) => u.username)).to.include(pm.environment.get('username'))" }
      },
      {
        operationId: 'getMe',
        name: 'Me',
        checks: { 'is the logged-in user': "pm.expect(answer.username).to.eql(pm.environment.get('username'))" },
        save: { myUserId: 'answer.id' }
      },
      {
        operationId: 'updateMe',
        name: 'Set my status',
        body: { status: 'online', statusMessage: 'Trying Pigeon from Postman' },
        checks: { 'status changed': "pm.expect(answer).to.include({ status: 'online', statusMessage: 'Trying Pigeon from Postman' })" }
      },
      {
        operationId: 'getUser',
        name: 'The user registered above',
        path: { id: '{{newUserId}}' },
        checks: {
          'is the new user': "pm.expect(answer.username).to.eql(pm.environment.get('newUsername'))",
          'with a presence': "pm.expect(answer.presence).to.be.oneOf(['online', 'idle', 'busy', 'offline'])"
        }
      },
      {
        operationId: 'reportPresence',
        name: 'Say I am idle (others see it while I am online)',
        body: { presence: 'idle' }
      }
    ]
  },
  {
    name: '4. Rooms',
    description: 'Creates a group room with users 2 and 3 and keeps its id as {{roomId}}; as its owner, makes it private, adds and removes a member and makes user 2 an owner; lists the public rooms.',
    steps: [
      { operationId: 'listRooms', name: 'My rooms' },
      {
        operationId: 'createRoom',
        name: 'Create a group room',
        body: { name: 'Postman walk-through', memberIds: [2, 3] },
        checks: {
          'is a group': "pm.expect(answer.kind).to.eql('group')",
          'with me, 2 and 3': "pm.expect(answer.memberIds).to.include.members([Number(pm.environment.get('myUserId')), 2, 3])"
        },
        save: { roomId: 'answer.id' }
      },
      {
        operationId: 'getRoom',
        name: 'The new room',
        path: { id: '{{roomId}}' },
        checks: { 'is the new room': "pm.expect(answer.id).to.eql(Number(pm.environment.get('roomId')))" }
      },
      { operationId: 'listRoomMessages', name: 'Its history', path: { id: '{{roomId}}' } },
      {
        operationId: 'joinRoom',
        name: 'Join it (idempotent: I am in already)',
        path: { id: '{{roomId}}' },
        checks: { 'I am a member': "pm.expect(answer.memberIds).to.include(Number(pm.environment.get('myUserId')))" }
      },
      {
        operationId: 'markRoomRead',
        name: 'Mark it read',
        path: { id: '{{roomId}}' },
        body: { seq: 0 },
        checks: { 'nothing unread': 'pm.expect(answer.unreadCount).to.eql(0)' }
      },
      {
        operationId: 'setTyping',
        name: 'Tell it I am typing',
        path: { id: '{{roomId}}' },
        body: { typing: true }
      },
      {
        operationId: 'updateRoom',
        name: 'Make it private (I own it: I created it)',
        path: { id: '{{roomId}}' },
        body: { visibility: 'private' },
        checks: {
          'is private': "pm.expect(answer.visibility).to.eql('private')",
          'is mine': "pm.expect(answer.ownerIds).to.include(Number(pm.environment.get('myUserId')))"
        }
      },
      {
        operationId: 'addRoomMember',
        name: 'Add user 4',
        path: { id: '{{roomId}}', userId: '4' },
        checks: { 'user 4 is in': 'pm.expect(answer.memberIds).to.include(4)' }
      },
      {
        operationId: 'grantRoomOwner',
        name: 'Make user 2 an owner',
        path: { id: '{{roomId}}', userId: '2' },
        checks: { 'user 2 owns it too': 'pm.expect(answer.ownerIds).to.include(2)' }
      },
      { operationId: 'removeRoomMember', name: 'Remove user 4 again', path: { id: '{{roomId}}', userId: '4' } },
      {
        operationId: 'listPublicRooms',
        name: 'Public rooms anyone may join',
        checks: { 'lists the public demo rooms only': "pm.expect(answer.items.map((room) => room.name)).to.include('general').and.not.include('engineering')" }
      }
    ]
  },
  {
    name: '5. Send and follow the task',
    description: 'A send answers 202 with a task id at once; a worker stores the message. `?wait=10` holds the task request until it finishes.',
    steps: [
      {
        operationId: 'sendToRoom',
        name: 'Send to the room',
        path: { id: '{{roomId}}' },
        body: { text: 'Hello from the Postman walk-through!' },
        checks: pointsToItsTask,
        save: { taskId: 'answer.taskId' }
      },
      {
        operationId: 'getTask',
        name: 'Wait for the task to complete',
        path: { taskId: '{{taskId}}' },
        query: { wait: '10' },
        checks: {
          completed: "pm.expect(answer).to.include({ id: pm.environment.get('taskId'), state: 'completed', error: null })",
          'stored in the room': "pm.expect(answer.result).to.include({ roomId: Number(pm.environment.get('roomId')), text: 'Hello from the Postman walk-through!' })"
        }
      },
      {
        operationId: 'searchMessages',
        name: 'Find it by its words',
        query: { q: 'postman hello', roomId: '{{roomId}}' },
        checks: {
          'finds the message just stored': "pm.expect(answer.items[0]).to.include({ roomId: Number(pm.environment.get('roomId')), text: 'Hello from the Postman walk-through!' })",
          'marks the words found': "pm.expect(answer.items[0].highlight).to.include('<mark>Postman</mark>')"
        }
      },
      {
        operationId: 'sendToUser',
        name: 'Send a direct message to user 2',
        path: { id: '2' },
        body: { text: 'Hi user 2, this came through Postman.' },
        checks: pointsToItsTask,
        save: { directTaskId: 'answer.taskId' }
      }
    ]
  },
  {
    name: '6. Unseen feed',
    description: 'The first call lists what I have not seen and returns a cursor; passing that cursor acknowledges it.',
    steps: [
      {
        operationId: 'listUnseen',
        name: 'Unseen messages',
        checks: { 'holds no message of mine': "pm.expect(answer.items.map((m) => m.senderId)).to.not.include(Number(pm.environment.get('myUserId')))" },
        save: { unseenCursor: 'answer.cursor', unseenIds: 'JSON.stringify(answer.items.map((m) => m.id))' }
      },
      {
        operationId: 'listUnseen',
        name: 'Acknowledge them with the cursor',
        query: { cursor: '{{unseenCursor}}' },
        checks: {
          'acknowledged messages do not come again': "pm.expect(answer.items.filter((m) => JSON.parse(pm.environment.get('unseenIds') || '[]').includes(m.id))).to.be.empty"
        },
        save: { unseenCursor: 'answer.cursor' }
      },
      {
        operationId: 'streamEvents',
        name: 'The same feed as Server-Sent Events, for one second',
        query: { seconds: '1', cursor: '{{unseenCursor}}' },
        checks: {
          'is an event stream': "pm.expect(pm.response.headers.get('Content-Type')).to.include('text/event-stream')",
          'starts with a retry hint': 'pm.expect(pm.response.text()).to.match(/^retry: \\d+\\n\\n/)'
        }
      }
    ]
  },
  {
    name: '7. Edit, delete, and see the change in the feed',
    description: 'I add the fresh user to the (now private) room and it sends; I get the message in my feed. Its author edits it, then deletes it: each change reaches my feed once, in `changes`, as the message is now. Edits and deletes go through the queue as sends do (202 and a task).',
    steps: [
      {
        operationId: 'createToken',
        name: 'Log in as the fresh user (kept as {{newUserToken}})',
        body: { username: '{{newUsername}}', password: '{{password}}' },
        save: { newUserToken: 'answer.accessToken' }
      },
      {
        operationId: 'addRoomMember',
        name: 'I add the fresh user to the room (private: only members add people)',
        path: { id: '{{roomId}}', userId: '{{newUserId}}' }
      },
      {
        operationId: 'sendToRoom',
        name: 'The fresh user sends',
        asNewUser: true,
        path: { id: '{{roomId}}' },
        body: { text: 'Hello, this will be edited' },
        checks: pointsToItsTask,
        save: { authorTaskId: 'answer.taskId' }
      },
      {
        operationId: 'getTask',
        name: 'The send is stored (kept as {{messageId}})',
        asNewUser: true,
        path: { taskId: '{{authorTaskId}}' },
        query: { wait: '10' },
        checks: completed,
        save: { messageId: 'answer.result.id' }
      },
      {
        operationId: 'listUnseen',
        name: 'I get it in my feed',
        query: { cursor: '{{unseenCursor}}', limit: '200' },
        checks: { 'the message is new to me': "pm.expect(answer.items.map((m) => m.id)).to.include(Number(pm.environment.get('messageId')))" },
        save: { unseenCursor: 'answer.cursor' }
      },
      {
        operationId: 'editMessage',
        name: 'Its author edits it',
        asNewUser: true,
        path: { id: '{{messageId}}' },
        body: { text: 'Hello, this was edited' },
        checks: pointsToItsTask,
        save: { authorTaskId: 'answer.taskId' }
      },
      {
        operationId: 'getTask',
        name: 'The edit is applied',
        asNewUser: true,
        path: { taskId: '{{authorTaskId}}' },
        query: { wait: '10' },
        checks: {
          'completed, an edit': "pm.expect(answer).to.include({ kind: 'edit-message', state: 'completed' })",
          edited: "pm.expect(answer.result).to.include({ text: 'Hello, this was edited' }).and.have.property('editedAt').that.is.a('string')"
        }
      },
      {
        operationId: 'listUnseen',
        name: 'The edit reaches my feed once, in changes',
        query: { cursor: '{{unseenCursor}}', wait: '10' },
        checks: { 'the edited message': `pm.expect(${changeToMyMessage}).to.include({ text: 'Hello, this was edited' })` },
        save: { unseenCursor: 'answer.cursor' }
      },
      {
        operationId: 'getMessage',
        name: 'Its author sees who has seen it',
        asNewUser: true,
        path: { id: '{{messageId}}' },
        checks: { 'with who has seen it': "pm.expect(answer).to.have.property('seenBy')" }
      },
      {
        operationId: 'deleteMessage',
        name: 'Its author deletes it',
        asNewUser: true,
        path: { id: '{{messageId}}' },
        checks: pointsToItsTask,
        save: { authorTaskId: 'answer.taskId' }
      },
      {
        operationId: 'getTask',
        name: 'The delete is applied',
        asNewUser: true,
        path: { taskId: '{{authorTaskId}}' },
        query: { wait: '10' },
        checks: completed
      },
      {
        operationId: 'listUnseen',
        name: 'The delete reaches my feed: a tombstone without text',
        query: { cursor: '{{unseenCursor}}', wait: '10' },
        checks: { 'the deleted message': `pm.expect(${changeToMyMessage}).to.include({ text: null }).and.have.property('deletedAt').that.is.a('string')` },
        save: { unseenCursor: 'answer.cursor' }
      },
      {
        operationId: 'getMessage',
        name: 'I see the tombstone',
        path: { id: '{{messageId}}' },
        checks: { 'no text, its slot kept': "pm.expect(answer).to.include({ text: null }).and.not.have.property('seenBy')" }
      }
    ]
  },
  {
    name: '8. Leave and log out',
    description: 'Leaves the room created above, rotates the refresh token, then revokes it. The fresh user changes its password and then logs out everywhere: both end logins, so they are done as the fresh user (the demo user keeps its password and its other sessions), and logging out everywhere comes last, since it ends the fresh user\'s own token.',
    steps: [
      { operationId: 'leaveRoom', name: 'Leave the room', path: { id: '{{roomId}}' } },
      {
        operationId: 'refreshToken',
        name: 'Refresh the tokens',
        body: { refreshToken: '{{refreshToken}}' },
        checks: { 'the refresh token rotated': "pm.expect(answer.refreshToken).to.not.eql(pm.environment.get('refreshToken'))" },
        save: keepTokens
      },
      { operationId: 'logout', name: 'Log out', body: { refreshToken: '{{refreshToken}}' } },
      {
        operationId: 'changePassword',
        name: 'The fresh user changes its password (its other logins end)',
        asNewUser: true,
        body: { currentPassword: '{{password}}', newPassword: '{{password}}-changed' }
      },
      { operationId: 'logoutAll', name: 'The fresh user logs out everywhere', asNewUser: true }
    ]
  }
]

const secretVariables = new Set(['password', 'accessToken', 'refreshToken', 'newUserToken'])

/** What the user sets, then what the walk-through fills in, in the order it does. */
function environmentValues (): PostmanEnvironment['values'] {
  const filled = walkThrough.flatMap((folder) => folder.steps.flatMap((step) => Object.keys({ ...step.before, ...step.save })))
  const values = { baseUrl: demoBaseUrl, username: 'user_1', password: 'Passw0rd!', ...Object.fromEntries(filled.map((key) => [key, ''])) }
  return Object.entries(values).map(([key, value]) => ({ key, value, type: secretVariables.has(key) ? 'secret' : 'default', enabled: true }))
}

// ---------------------------------------------------------------------------------------------
// Scripts: plain JavaScript for Postman's sandbox. Its jsonSchema assertion runs the Ajv 6 it bundles, which reads
// JSON Schema draft-07 and ignores keywords it does not know: a 2020-12 one such as prefixItems would check nothing here
// (Prism still checks every answer against the whole document when the tests run the collection).

const setVariables = (values: Record<string, string> = {}) =>
  Object.entries(values).map(([key, value]) => `pm.environment.set('${key}', ${value});`)

const annotations = new Set(['description', 'examples'])

/** A schema without its annotations, which validate nothing and would only lengthen the scripts. */
function withoutAnnotations (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutAnnotations)
  if (typeof schema !== 'object' || schema === null) return schema
  return Object.fromEntries(Object.entries(schema).filter(([keyword]) => !annotations.has(keyword)).map(([keyword, inner]) => [
    keyword,
    // Property names are not keywords: a property may well be called `description`.
    keyword === 'properties'
      ? Object.fromEntries(Object.entries(inner as object).map(([name, property]) => [name, withoutAnnotations(property)]))
      : withoutAnnotations(inner)
  ]))
}

/** The one success status the document gives the operation, and its JSON body's schema if it has one. */
function documentedSuccess (operation: Operation): { status: number, schema?: unknown } {
  const successes = Object.entries(operation.responses ?? {}).filter(([status]) => status.startsWith('2'))
  const [success, ...others] = successes
  if (success === undefined || others.length > 0) {
    throw new Error(`${operation.operationId ?? '?'} documents ${successes.length} success answers; a step expects one`)
  }
  const [status, response] = success
  const schema = response.content?.['application/json']?.schema
  return { status: Number(status), schema: schema === undefined ? undefined : withoutAnnotations(schema) }
}

function testScript (step: Step, operation: Operation): string[] {
  const { status, schema } = documentedSuccess(operation)
  const test = (name: string, assertion: string) => `pm.test(${JSON.stringify(name)}, () => ${assertion});`
  const checks = Object.entries(step.checks ?? {})
  const usesAnswer = schema !== undefined && checks.length + Object.keys(step.save ?? {}).length > 0
  return [
    test(`status ${status}`, `pm.response.to.have.status(${status})`),
    ...(schema === undefined ? [] : [test('matches the documented schema', `pm.response.to.have.jsonSchema(${JSON.stringify(schema)})`)]),
    ...(usesAnswer ? ['const answer = pm.response.json();'] : []),
    ...checks.map(([name, assertion]) => test(name, assertion)),
    ...setVariables(step.save)
  ]
}

// ---------------------------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): the converter fakes example values, and they must not change per run. */
function seededRandom (seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6D2B79F5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A copy in which every schema with OpenAPI 3.1 `examples` also has the 3.0 `example` the converter reads. */
function withSingularExamples (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withSingularExamples)
  if (typeof value !== 'object' || value === null) return value
  const copy = Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, withSingularExamples(inner)]))
  const { examples } = value as { examples?: unknown }
  return Array.isArray(examples) && examples.length > 0 && !('example' in copy) ? { ...copy, example: examples[0] } : copy
}

async function convert (document: OpenApiDocument): Promise<PostmanCollection> {
  schemaFaker.option({ random: seededRandom(20261123) })
  const result = await promisify(converter.convertV2)({ type: 'json', data: withSingularExamples(document) as object }, {
    folderStrategy: 'Tags',
    // The document's examples (real ids, cursors, tokens) rather than placeholders such as <string>.
    parametersResolution: 'Example',
    // Optional parameters stay in each request, switched off; the walk-through switches on what it uses.
    enableOptionalParameters: false,
    alwaysInheritAuthentication: true
  })
  const output = result?.output?.[0]
  if (result?.result !== true || output === undefined) throw new Error(`conversion failed: ${result?.reason ?? 'no output'}`)
  return output.data as PostmanCollection
}

function routeKey (method: string, urlPath: string[]): string {
  return `${method.toUpperCase()} /${urlPath.join('/')}`
}

/** Each converted request by operation id, checking that every operation is documented and walked through. */
function requestsByOperation (document: OpenApiDocument, collection: PostmanCollection): Map<string, { item: PostmanItem, operation: Operation }> {
  const converted = new Map<string, PostmanItem>()
  const collect = (items: PostmanItem[]) => {
    for (const item of items) {
      if (item.item !== undefined) collect(item.item)
      else if (item.request !== undefined) converted.set(routeKey(item.request.method, item.request.url.path), item)
    }
  }
  collect(collection.item)

  const walked = new Set(walkThrough.flatMap((folder) => folder.steps.map((step) => step.operationId)))
  const byOperation = new Map<string, { item: PostmanItem, operation: Operation }>()
  const problems: string[] = []
  for (const [openApiPath, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const where = `${method.toUpperCase()} ${openApiPath}`
      if (operation.operationId === undefined || operation.summary === undefined || (operation.tags ?? []).length === 0) {
        problems.push(`${where} needs a summary, an operationId and tags in its route schema`)
        continue
      }
      if (!walked.has(operation.operationId)) problems.push(`${where} (${operation.operationId}) has no step in the walk-through`)
      const item = converted.get(routeKey(method, openApiPath.replace(/^\//, '').replace(/\{(\w+)\}/g, ':$1').split('/')))
      if (item === undefined) problems.push(`${where} is missing from the converted collection`)
      else byOperation.set(operation.operationId, { item, operation })
    }
  }
  for (const operationId of walked) {
    if (!byOperation.has(operationId) && !problems.some((p) => p.includes(operationId))) {
      problems.push(`the walk-through names ${operationId}, which the API does not have`)
    }
  }
  if (problems.length > 0) throw new Error(`Cannot build the Postman walk-through:\n- ${problems.join('\n- ')}`)
  return byOperation
}

function applyParams (params: PostmanParam[], values: Record<string, string> | undefined, enableListed: boolean): void {
  for (const param of params) {
    const value = values?.[param.key]
    if (value !== undefined) {
      param.value = value
      param.disabled = false
    } else if (enableListed) {
      param.disabled = true
    }
  }
}

/** Drops the converter's generated ids, which change on every run (Postman assigns its own on import). */
function withoutGeneratedIds<T> (value: T): T {
  return JSON.parse(JSON.stringify(value, (key, inner: unknown) => key === 'id' && typeof inner === 'string' ? undefined : inner)) as T
}

function stepItem (step: Step, converted: { item: PostmanItem, operation: Operation }): PostmanItem {
  const item = withoutGeneratedIds(structuredClone(converted.item))
  const request = item.request
  if (request === undefined) throw new Error(`${step.operationId} converted to a folder`)
  const { operation } = converted
  item.name = step.name
  request.name = step.name
  request.description = {
    content: [operation.summary, operation.description].filter((text) => text !== undefined).join('\n\n'),
    type: 'text/markdown'
  }
  // Saved examples of successful answers only: every error answer is the one problem shape, and a copy of it for
  // each status of each request would be most of the file.
  item.response = item.response?.filter((example) => example.code !== undefined && example.code < 300)
  applyParams(request.url.variable, step.path, false)
  applyParams(request.url.query, step.query, true)
  if (step.body !== undefined) {
    request.body = { mode: 'raw', raw: JSON.stringify(step.body, null, 2), options: { raw: { language: 'json' } } }
    if (!request.header.some((header) => header.key.toLowerCase() === 'content-type')) {
      request.header.unshift({ key: 'Content-Type', value: 'application/json' })
    }
  }
  // Public routes (no security in the document) send no token; the rest inherit the collection's bearer.
  if ((operation.security ?? []).length === 0) request.auth = { type: 'noauth' }
  else if (step.asNewUser === true) request.auth = { type: 'bearer', bearer: [{ key: 'token', value: '{{newUserToken}}', type: 'string' }] }
  else delete request.auth
  item.event = [
    ...(step.before === undefined ? [] : [{ listen: 'prerequest' as const, script: { type: 'text/javascript', exec: setVariables(step.before) } }]),
    { listen: 'test', script: { type: 'text/javascript', exec: testScript(step, operation) } }
  ]
  return item
}

/** The collection and environment, generated in memory. */
export async function generatePostman (document?: OpenApiDocument): Promise<{ collection: PostmanCollection, environment: PostmanEnvironment }> {
  const openApi = document ?? await openApiDocument<OpenApiDocument>()
  const converted = await convert(openApi)
  const byOperation = requestsByOperation(openApi, converted)

  const collection: PostmanCollection = {
    info: {
      _postman_id: collectionId,
      name: converted.info.name,
      schema: converted.info.schema,
      description: {
        content: [
          'Generated from the OpenAPI document by `npm run postman`; do not edit by hand.',
          '',
          'Start the seeded demo (`npm run demo`), select the "Pigeon (local demo)" environment and run the folders top to bottom:',
          'each request keeps what the next one needs (tokens, room id, task id, cursor) in the environment.',
          '',
          (converted.info.description as { content?: string } | undefined)?.content ?? ''
        ].join('\n'),
        type: 'text/markdown'
      }
    },
    item: walkThrough.map((folder) => ({
      name: folder.name,
      description: folder.description,
      item: folder.steps.map((step) => {
        const found = byOperation.get(step.operationId)
        if (found === undefined) throw new Error(`no request for ${step.operationId}`)
        return stepItem(step, found)
      })
    })),
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{accessToken}}', type: 'string' }] },
    variable: [{ key: 'baseUrl', value: demoBaseUrl }]
  }
  const environment: PostmanEnvironment = {
    id: environmentId,
    name: 'Pigeon (local demo)',
    values: environmentValues(),
    _postman_variable_scope: 'environment'
  }
  return { collection, environment }
}

export function toFileContent (value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { collection, environment } = await generatePostman()
  await mkdir(postmanDir, { recursive: true })
  await writeFile(collectionFile, toFileContent(collection))
  await writeFile(environmentFile, toFileContent(environment))
  console.log(`wrote ${path.relative(process.cwd(), collectionFile)} and ${path.relative(process.cwd(), environmentFile)}`)
}
