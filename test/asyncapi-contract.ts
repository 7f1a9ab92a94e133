import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

/** The parts of the AsyncAPI document the checks read. */
interface Message { name: string, payload: { properties?: { type?: { const?: string } } } }
export interface AsyncApiDocument {
  asyncapi: string
  channels: Record<string, { address: string, messages: Record<string, { $ref: string }> }>
  operations: Record<string, { action: string, channel: { $ref: string }, messages: Array<{ $ref: string }> }>
  components: { messages: Record<string, Message> }
}

/** Checks pushed frames and events against the document the server serves: each answers what is wrong, or nothing. */
export interface PushContract {
  /** A frame the server sent on `/v1/ws`. */
  checkSocketFrame: (frame: unknown) => string[]
  /** An event the server sent on `/v1/events`: its name and its `data`, parsed. */
  checkStreamEvent: (event: string, data: unknown) => string[]
}

/** A `#/…` pointer's target in the document. */
export function resolve (document: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined
  return ref.slice(2).split('/').reduce<unknown>((node, key) =>
    typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key.replaceAll('~1', '/').replaceAll('~0', '~')] : undefined, document)
}

export function createPushContract (document: AsyncApiDocument): PushContract {
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats.default(ajv)
  ajv.addSchema(document as object, 'asyncapi')
  /** What the server sends on a channel, by message name: the messages of its `send` operations. */
  const sentOn = (channel: string): Map<string, ValidateFunction> => {
    const validators = new Map<string, ValidateFunction>()
    for (const operation of Object.values(document.operations)) {
      if (operation.action !== 'send' || operation.channel.$ref !== `#/channels/${channel}`) continue
      for (const { $ref } of operation.messages) {
        const component = (resolve(document, $ref) as { $ref: string }).$ref
        const message = resolve(document, component) as Message
        validators.set(message.name, ajv.compile({ $ref: `asyncapi${component}/payload` }))
      }
    }
    return validators
  }
  const socket = sentOn('socket')
  const stream = sentOn('stream')
  const failures = (validate: ValidateFunction | undefined, value: unknown, what: string): string[] => {
    if (validate === undefined) return [`${what} is not in the AsyncAPI document`]
    return validate(value) ? [] : [`${what} does not match the AsyncAPI document: ${ajv.errorsText(validate.errors)}`]
  }
  return {
    checkSocketFrame (frame) {
      const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined
      // A frame with no type is the answer to a request frame.
      const name = typeof type === 'string' ? type : 'response'
      return failures(socket.get(name), frame, `socket frame ${JSON.stringify(name)}`)
    },
    checkStreamEvent: (event, data) => failures(stream.get(event), data, `stream event ${JSON.stringify(event)}`)
  }
}

const contracts = new Map<string, Promise<PushContract>>()

/** The contract of the server at `url` (any URL of it), read once per server. */
export async function pushContractOf (url: string): Promise<PushContract> {
  const origin = new URL(url.replace(/^ws/, 'http')).origin
  let contract = contracts.get(origin)
  if (contract === undefined) {
    contract = fetch(`${origin}/asyncapi.json`).then(async (response) => createPushContract(await response.json() as AsyncApiDocument))
    contracts.set(origin, contract)
  }
  return await contract
}
