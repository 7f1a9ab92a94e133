/** The slice of a pino logger that core code uses, so a Fastify request log and a worker's pino log both fit. */
export interface Log {
  debug: (obj: object, msg?: string) => void
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}
