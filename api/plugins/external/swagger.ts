import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { Type } from 'typebox'
import packageJson from '../../../package.json' with { type: 'json' }
import { completeDocument, type OpenApiDocument } from '../../openapi.js'
import { noAuth } from '../../schemas/common.js'

export default fp(async (fastify) => {
  await fastify.register(swagger, {
    // Shared schemas keep their $id as their component name.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    transformObject: (document) => completeDocument(('openapiObject' in document ? document.openapiObject : {}) as OpenApiDocument),
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Pigeon',
        // The document describes this release of the server: its version is the package's.
        version: packageJson.version,
        description: [
          'Asynchronous messaging API. A send answers 202 with a task id at once; a worker stores the message;',
          'clients long-poll `GET /v1/messages/unseen` and check any send with `GET /v1/tasks/{taskId}`.',
          '',
          'Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`. Paged lists answer',
          '`{ items, nextCursor }`; the unseen feed answers `{ items, cursor }`. Every GET answer has a weak `ETag`:',
          'send it back as `If-None-Match` to get 304 with no body while nothing changed. Every answer carries `x-request-id`.',
          'Before any route runs, the server may also refuse a request that is not HTTP (400 `MALFORMED_REQUEST`) or',
          'arrives too slowly (408 `REQUEST_TIMEOUT`).',
          'Log in with `POST /v1/auth/token` (the seeded demo has user_1 … user_15, password `Passw0rd!`),',
          'then press **Authorize** and paste the `accessToken`.',
          '',
          '**Behaviour where the design leaves a choice:**',
          '- Joining a group room starts you with its earlier messages counted as seen (history, not unseen or unread).',
          '- A group room is `public` (listed by `GET /v1/rooms/public`, anyone may join) or `private` (only its members see it exist;',
          '  anyone else gets 404 for it everywhere). New rooms are public unless said otherwise; rooms older than visibility were made private.',
          '  The creator owns the room; any member adds people (at once, no invitation: the Slack and Zulip model); owners rename, change visibility,',
          '  remove members and make members owners. Joining a private or a direct room is 404 (unless it is yours: then it answers the room); leaving a direct room is 409.',
          '- Log-in, registration, sends and the queue dashboard\'s sign-in are rate-limited: 429 `RATE_LIMITED` with `Retry-After` and `RateLimit-*` headers.',
          '- Unread and unseen share one watermark per room: `POST /v1/rooms/{id}/read` and a feed acknowledgement both move it forward only.',
          '- A user\'s own messages never count as unseen or unread.',
          '- A direct message to yourself is 422 `CANNOT_MESSAGE_SELF`.',
          '- Logout ends that login: its refresh and access tokens stop working at once (401 `SESSION_ENDED`), its sockets and streams end.',
          '  `POST /v1/auth/logout-all` ends every login of the user; `POST /v1/users/me/password` every login but the caller\'s.',
          '- An expired access token is 401 `TOKEN_EXPIRED` with `WWW-Authenticate: Bearer error="invalid_token", error_description="expired"`: refresh it.',
          '- Unknown JSON fields in a request body are 400, and JSON values are not coerced (a number is not a string).',
          '- A 202 is a promise: the task is committed in Postgres before the answer, and the message is stored exactly once',
          '  whatever fails afterwards (Postgres or Redis away, Redis losing its data, a worker killed). Outages are retried until',
          '  the task is 24 h old (then it fails with `SEND_FAILED`); only the sender\'s own refusals (`NOT_A_MEMBER`) fail at once.',
          '- While Redis cannot be reached a send answers 503 `QUEUE_UNAVAILABLE` at once and nothing is recorded;',
          '  while Postgres cannot be reached any route that needs it answers 503 `DATABASE_UNAVAILABLE`.',
          '- Idempotency keys are kept in Postgres for 48 h; finished tasks stay answerable for 24 h (both configurable).',
          '- Cursors (`cursor`, `nextCursor`, an event\'s `id`, `Last-Event-ID`) are opaque and sealed by the server (an HMAC every',
          '  instance checks); a feed cursor is for one user. An edited, forged or another user\'s cursor is 400 `INVALID_CURSOR`.',
          '  Whatever a cursor says, the feed never takes it past what a room held, so a message that arrives later always comes.',
          '  Unsealed cursors from before sealing are still taken while they claim no more than the rooms hold (else 400).',
          '',
          '**Push.** `GET /v1/events` streams the unseen feed as Server-Sent Events (documented below). `GET /v1/ws` is a WebSocket',
          '(not an HTTP answer this document can describe):',
          '- Authenticate with `Sec-WebSocket-Protocol: pigeon.v1, bearer.<accessToken>`, or send `{ "type": "auth", "token": "…" }`',
          '  as the first frame within 5 s. `?cursor=` (or `cursor` in the auth frame) resumes the feed and acknowledges what it covers.',
          '- The server sends `{ "type": "ready", "userId" }`, then events `{ type, cursor?, data }`: `message.created` (data: a Message;',
          '  `cursor`: the feed cursor after it), `task.finished` (a Task of mine), `member.joined` / `member.left` (`{ roomId, userId }`,',
          '  to the room\'s members), `read.updated` (`{ roomId, seq }`, my watermark moved).',
          '- A request `{ "id": 7, "method": "POST", "path": "/v1/rooms/3/messages", "body": { … } }` is answered',
          '  `{ "id": 7, "status": 202, "body": { … } }`, through the same routes as HTTP (same validation, errors and bodies, and the',
          '  limits count the socket\'s client address). At most 16 run at once per socket (a frame beyond is answered 429); they end',
          '  when the socket closes. A frame cannot open a stream or a socket: `/v1/events` answers 400 `NOT_OVER_SOCKET`, `/v1/ws` 426.',
          '- `GET /v1/ws` without a WebSocket upgrade answers 426 `UPGRADE_REQUIRED` (problem+json).',
          '- Close codes: 4400 the cursor is malformed, edited, forged or another user\'s (an error frame says so first), 4401 no valid',
          '  token, it expired (refresh, reconnect) or its login ended (log in again), 4408 no token in time, 4409 the user opened more',
          '  sockets than one server keeps for them (10 by default) and this, the oldest, was closed (do not reconnect on your own),',
          '  4429 the client read too slowly (reconnect with the last cursor), 1001 the server is shutting down (reconnect with the last cursor).'
        ].join('\n')
      },
      // Relative: the API is wherever this document was fetched from.
      servers: [{ url: '/', description: 'The server that serves this document' }],
      tags: [
        { name: 'auth', description: 'Register, log in, refresh and log out' },
        { name: 'users', description: 'People who can be messaged' },
        { name: 'rooms', description: 'Direct and group rooms, their members and history' },
        { name: 'messages', description: 'Sending (asynchronous, 202) and the unseen feed (long-poll)' },
        { name: 'tasks', description: 'The outcome of a send, by task id' },
        { name: 'ops', description: 'Health, metrics and this document' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }
        }
      }
    }
  })
  // Its pages need scripts and styles of their own: swagger-ui sets the policy that allows just those, less
  // `upgrade-insecure-requests`: on a plain-http server reached by any name but localhost, that directive has the
  // browser fetch every asset over https, which such a server does not speak, and the page stays blank.
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: (policy) => policy.replace(/\s*upgrade-insecure-requests;?/, '')
  })

  fastify.get('/openapi.json', {
    schema: {
      tags: ['ops'],
      operationId: 'openApiDocument',
      summary: 'This OpenAPI document',
      description: 'The contract, as JSON: point a client generator, Postman or a validating proxy at it.',
      security: noAuth,
      response: { 200: Type.Object({ openapi: Type.String({ examples: ['3.1.0'] }) }, { additionalProperties: true, description: 'OpenAPI 3.1 document' }) }
    }
  }, async () => fastify.swagger())
}, { name: 'swagger' })
