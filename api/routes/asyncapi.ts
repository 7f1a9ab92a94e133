import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { asyncApiDocument } from '../asyncapi.js'
import { noAuth } from '../schemas/common.js'

const asyncApiRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const document = asyncApiDocument()
  fastify.get('/asyncapi.json', {
    schema: {
      tags: ['ops'],
      operationId: 'asyncApiDocument',
      summary: 'The push protocol as an AsyncAPI document',
      description: 'The WebSocket (`/v1/ws`: the frames both ways, the close codes) and the event stream (`/v1/events`: event names and data), as AsyncAPI 3.0 JSON; every payload is the schema the REST answers use.',
      security: noAuth,
      response: { 200: Type.Object({ asyncapi: Type.String({ examples: ['3.0.0'] }) }, { additionalProperties: true, description: 'AsyncAPI 3.0 document' }) }
    }
  }, async () => document)
}

export default asyncApiRoutes
