import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

export default fp(async (fastify) => {
  await fastify.register(swagger, {
    // Shared schemas keep their $id as their component name.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Pigeon',
        version: '1.0.0',
        description: [
          'Asynchronous messaging API. A send answers 202 with a task id at once; a worker stores the message;',
          'clients long-poll `GET /v1/messages/unseen` and check any send with `GET /v1/tasks/{taskId}`.',
          '',
          'Errors are RFC 9457 problem details (`application/problem+json`). Lists answer `{ items, nextCursor }`.',
          'Log in with `POST /v1/auth/token` (the seeded demo has user_1 … user_15, password `Passw0rd!`),',
          'then press **Authorize** and paste the `accessToken`.',
          '',
          '**Behaviour where the design leaves a choice:**',
          '- Joining a group room starts you with its earlier messages counted as seen (history, not unseen or unread).',
          '- Any user may join any group room by id; direct rooms cannot be joined, and cannot be left (409).',
          '- Unread and unseen share one watermark per room: `POST /v1/rooms/{id}/read` and a feed acknowledgement both move it forward only.',
          '- A user\'s own messages never count as unseen or unread.',
          '- A direct message to yourself is 422 `CANNOT_MESSAGE_SELF`.',
          '- Logout revokes the refresh token\'s family; access tokens already issued live until they expire.',
          '- Unknown JSON fields in a request body are 400, and JSON values are not coerced (a number is not a string).',
          '- A 202 is a promise: the task is committed in Postgres before the answer, and the message is stored exactly once',
          '  whatever fails afterwards (Postgres or Redis away, Redis losing its data, a worker killed). Outages are retried until',
          '  the task is 24 h old (then it fails with `SEND_FAILED`); only the sender\'s own refusals (`NOT_A_MEMBER`) fail at once.',
          '- While Redis cannot be reached a send answers 503 `QUEUE_UNAVAILABLE` at once and nothing is recorded.',
          '- Idempotency keys are kept in Postgres for 48 h; finished tasks stay answerable for 24 h (both configurable).'
        ].join('\n')
      },
      tags: [
        { name: 'auth', description: 'Register, log in, refresh and log out' },
        { name: 'users', description: 'People who can be messaged' },
        { name: 'rooms', description: 'Direct and group rooms, their members and history' },
        { name: 'messages', description: 'Sending (asynchronous, 202) and the unseen feed (long-poll)' },
        { name: 'tasks', description: 'The outcome of a send, by task id' },
        { name: 'ops', description: 'Health and documentation' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }
        }
      }
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })

  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger())
}, { name: 'swagger' })
