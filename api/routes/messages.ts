import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { changeRefusals, refusalFor } from '../../core/message-changes.js'
import { findMessageForMember } from '../../core/messages.js'
import type { ChangeMessagePayload } from '../../core/queue.js'
import { seenByOf } from '../../core/read-state.js'
import { taskKinds } from '../../core/db/schema.js'
import { createTaskAcceptor } from '../accept-task.js'
import { HttpProblem, notFound } from '../errors.js'
import { bearer, IdParamsSchema, problems } from '../schemas/common.js'
import { AcceptedSchema, MessageDetailSchema, SendBodySchema, SendHeadersSchema, toMessageView } from '../schemas/messages.js'

const changeSchema = {
  security: bearer,
  params: IdParamsSchema,
  headers: SendHeadersSchema,
  response: { 202: AcceptedSchema, ...problems(403, 404, 409, 422, 429, 503) }
}

const changeNotes = 'Only the sender may do it (403 `NOT_THE_AUTHOR`); a message I cannot see is 404. It goes through the queue as a send does: 202 with a task to follow at `statusUrl` (`?wait=N`), `Idempotency-Key` for safe retries. The checks are made again when a worker applies it, and a refusal then fails the task (`error.code` `MESSAGE_NOT_FOUND`, `NOT_THE_AUTHOR` or `MESSAGE_DELETED`). Members learn of it through the unseen feed\'s `changes`. Edits and deletes count with sends towards the per-user send limits (429 `RATE_LIMITED` with `Retry-After`).'

const messageRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, limits } = fastify
  fastify.addHook('onRequest', fastify.authenticate)
  const acceptTask = createTaskAcceptor(fastify)

  /** An edit (`text`) or a delete (`text` null) of my own message, accepted as a task of its own kind. */
  async function acceptChange (request: FastifyRequest, reply: FastifyReply, messageId: number, text: string | null) {
    const userId = request.userId
    const message = await findMessageForMember(db, messageId, userId)
    const refusal = refusalFor(message, userId, text !== null)
    if (message === undefined || refusal === 'MESSAGE_NOT_FOUND') throw notFound.message(messageId)
    if (refusal === 'NOT_THE_AUTHOR') throw new HttpProblem(403, changeRefusals.NOT_THE_AUTHOR, refusal)
    if (refusal === 'MESSAGE_DELETED') throw new HttpProblem(409, changeRefusals.MESSAGE_DELETED, refusal)
    const payload: ChangeMessagePayload = { messageId, editorId: userId, requestId: String(request.id) }
    if (text !== null) payload.text = text
    return await acceptTask(request, reply, {
      kind: text === null ? taskKinds.deleteMessage : taskKinds.editMessage,
      roomId: message.room_id,
      payload,
      body: text === null ? {} : { text },
      notAMember: () => notFound.message(messageId)
    })
  }

  fastify.get('/:id', {
    schema: {
      tags: ['messages'],
      operationId: 'getMessage',
      summary: 'One message as it is now, and who has seen it',
      description: 'For members of its room (anyone else gets 404). `seenByCount` counts the other members whose read watermark passed it; its sender also gets `seenBy`, each with when. `seenAt` is exact for watermark moves of the last `READ_MARKS_EXACT_SECONDS` (24 h by default); older moves are merged, so for them it is the end of the span it fell in (one per 24 h by default: never earlier than the truth, at most that much later), and past `READ_MARKS_KEEP_SECONDS` (30 days) the member\'s last move before then. A deleted message answers its slot with `deletedAt` and no text.',
      security: bearer,
      params: IdParamsSchema,
      response: { 200: MessageDetailSchema, ...problems(404) }
    }
  }, async (request) => {
    const message = await findMessageForMember(db, request.params.id, request.userId)
    if (message === undefined) throw notFound.message(request.params.id)
    const seenBy = await seenByOf(db, message)
    const view = { ...toMessageView(message), seenByCount: seenBy.length }
    if (message.sender_id !== request.userId) return view
    return { ...view, seenBy: seenBy.map((seen) => ({ userId: seen.userId, seenAt: seen.seenAt?.toISOString() ?? null })) }
  })

  // Edits and deletes are writes through the queue like sends, and share their per-user limits.
  fastify.patch('/:id', {
    preHandler: limits.sends,
    schema: {
      ...changeSchema,
      body: SendBodySchema,
      tags: ['messages'],
      operationId: 'editMessage',
      summary: 'Edit my message (asynchronous: 202 with a task id)',
      description: `The same text rules as a send. Edits are allowed for as long as the message exists; the last edit wins and earlier versions are not kept (\`editedAt\` says it was edited). A deleted message cannot be edited (409 \`MESSAGE_DELETED\`). ${changeNotes}`
    }
  }, async (request, reply) => {
    return await acceptChange(request, reply, request.params.id, request.body.text)
  })

  fastify.delete('/:id', {
    preHandler: limits.sends,
    schema: {
      ...changeSchema,
      tags: ['messages'],
      operationId: 'deleteMessage',
      summary: 'Delete my message (asynchronous: 202 with a task id)',
      description: `A tombstone: the message keeps its slot (room, seq) in history with \`deletedAt\`, and its text is gone from every answer and from the database. Deleting a deleted message completes and changes nothing. ${changeNotes}`
    }
  }, async (request, reply) => {
    return await acceptChange(request, reply, request.params.id, null)
  })
}

export default messageRoutes
