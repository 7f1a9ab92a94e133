import { randomBytes } from 'node:crypto'
import envSchema from 'env-schema'
import { Type, type Static } from 'typebox'
import { secretFromFile } from './secret-file.js'

export const ConfigSchema = Type.Object({
  DATABASE_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432/pigeon' }),
  /**
   * A streaming replica of DATABASE_URL's database for the reads that tolerate a short lag (the README's route table);
   * empty: every read goes to DATABASE_URL.
   */
  DATABASE_REPLICA_URL: Type.String({ default: '' }),
  /** How often an unreachable replica is tried again; meanwhile its reads go to the primary. */
  DATABASE_REPLICA_RETRY_SECONDS: Type.Number({ default: 5, exclusiveMinimum: 0 }),
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379' }),
  /**
   * Seeds of a Redis Cluster (`host:port,host:port,…`); when set it replaces REDIS_URL, and every Redis client is a
   * cluster client. Empty: one Redis at REDIS_URL.
   */
  REDIS_CLUSTER_NODES: Type.String({ default: '', pattern: '^\\s*([A-Za-z0-9_.-]+:[0-9]+(\\s*,\\s*[A-Za-z0-9_.-]+:[0-9]+)*)?\\s*$' }),
  HOST: Type.String({ default: '0.0.0.0' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535 }),
  /** A second port (on HOST) that alone serves /metrics and /admin/queues, for operators to keep off the public network; 0: both stay on PORT. */
  INTERNAL_PORT: Type.Integer({ default: 0, minimum: 0, maximum: 65535 }),
  LOG_LEVEL: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'),
    Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')
  ], { default: 'info' }),
  /** The key tokens are signed with; every API instance needs the same. Empty: the one kept in JWT_SECRET_FILE. */
  JWT_SECRET: Type.String({ default: '' }),
  /**
   * Secrets that seal cursors (comma-separated, newest first, each at least 32 characters): the first seals, every one
   * opens, and so does the key derived from JWT_SECRET, which alone seals while this is empty. Rotate by putting a new
   * key first, and drop an old one once no client can hold a cursor it sealed.
   */
  CURSOR_KEYS: Type.String({ default: '' }),
  /**
   * Where a process without JWT_SECRET keeps a secret, made on first start, so tokens outlive a restart (one machine
   * only). Empty, or a file that cannot be made: a random secret per process, and tokens die with it.
   */
  JWT_SECRET_FILE: Type.String({ default: '.jwt-secret' }),
  ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ default: 900, minimum: 1 }),
  REFRESH_TOKEN_TTL_SECONDS: Type.Integer({ default: 30 * 24 * 3600, minimum: 1 }),
  /** Namespaces every Redis key and channel of one deployment; each BullMQ queue gets it in a {hash tag} of its own (Redis Cluster-ready). */
  REDIS_PREFIX: Type.String({ default: 'pigeon', pattern: '^[A-Za-z0-9_.-]+$' }),
  /** Jobs each worker process runs at once; sends running together are stored together, so more means bigger batches. */
  WORKER_CONCURRENCY: Type.Integer({ default: 64, minimum: 1 }),
  /** Where a standalone worker process serves its Prometheus metrics (GET /metrics); 0 turns it off. */
  WORKER_METRICS_PORT: Type.Integer({ default: 9464, minimum: 0, maximum: 65535 }),
  /** How often each worker makes sure every unfinished task still has its job (Redis may have lost it). */
  RECONCILE_INTERVAL_SECONDS: Type.Number({ default: 15, exclusiveMinimum: 0 }),
  /** An accepted send is retried through any outage until it is this old; then it fails with SEND_FAILED. */
  TASK_DEADLINE_SECONDS: Type.Integer({ default: 24 * 3600, minimum: 1 }),
  /** How long a finished task stays answerable (GET /v1/tasks/{id}) before it is pruned. */
  TASK_RETENTION_SECONDS: Type.Integer({ default: 24 * 3600, minimum: 1 }),
  /**
   * Read watermark moves younger than this are kept one by one ("seen by whom, when" to the second); older ones are
   * merged to one per member per this many seconds (the last move of each such span).
   */
  READ_MARKS_EXACT_SECONDS: Type.Integer({ default: 24 * 3600, minimum: 1 }),
  /** Read watermark moves older than this are merged to one per member: their last move before then. */
  READ_MARKS_KEEP_SECONDS: Type.Integer({ default: 30 * 24 * 3600, minimum: 1 }),
  /** How long an Idempotency-Key keeps answering with its task. */
  IDEMPOTENCY_KEY_TTL_SECONDS: Type.Integer({ default: 48 * 3600, minimum: 1 }),
  USERS_CACHE_TTL_SECONDS: Type.Integer({ default: 300, minimum: 1 }),
  /** How long a finished task's answer, or the mark an edit or delete of its message leaves, stays in Redis. */
  TASK_CACHE_TTL_SECONDS: Type.Integer({ default: 600, minimum: 1 }),
  BODY_LIMIT_BYTES: Type.Integer({ default: 64 * 1024, minimum: 1024 }),
  /** Origins (comma-separated, e.g. `https://app.example.com`) whose pages may call the API; empty: CORS is off. */
  CORS_ORIGINS: Type.String({ default: '' }),
  // Rate limits (see the README's Security section): each is a number of requests per window, counted in Redis.
  /** Log-in attempts (right or wrong) per username: enough for typos, far too few to guess a password. */
  LOGIN_LIMIT_PER_USERNAME: Type.Integer({ default: 10, minimum: 1 }),
  /** Log-in attempts per client address, whatever the usernames: stops one machine trying many accounts. */
  LOGIN_LIMIT_PER_ADDRESS: Type.Integer({ default: 100, minimum: 1 }),
  LOGIN_LIMIT_WINDOW_SECONDS: Type.Integer({ default: 15 * 60, minimum: 1 }),
  REGISTER_LIMIT_PER_ADDRESS: Type.Integer({ default: 10, minimum: 1 }),
  REGISTER_LIMIT_WINDOW_SECONDS: Type.Integer({ default: 3600, minimum: 1 }),
  /** Sends per user in a short window (a burst), and in a long one (the sustained rate). */
  SEND_LIMIT_BURST: Type.Integer({ default: 30, minimum: 1 }),
  SEND_LIMIT_BURST_WINDOW_SECONDS: Type.Integer({ default: 10, minimum: 1 }),
  SEND_LIMIT_SUSTAINED: Type.Integer({ default: 600, minimum: 1 }),
  SEND_LIMIT_SUSTAINED_WINDOW_SECONDS: Type.Integer({ default: 600, minimum: 1 }),
  /** Rooms created and members added per user: each puts other people in a room, and its messages in their feeds. */
  ROOM_LIMIT_PER_USER: Type.Integer({ default: 30, minimum: 1 }),
  ROOM_LIMIT_WINDOW_SECONDS: Type.Integer({ default: 3600, minimum: 1 }),
  /** Queue-dashboard requests per address with credentials not already proven an admin's (each costs a password check). */
  ADMIN_AUTH_LIMIT_PER_ADDRESS: Type.Integer({ default: 10, minimum: 1 }),
  ADMIN_AUTH_LIMIT_WINDOW_SECONDS: Type.Integer({ default: 15 * 60, minimum: 1 }),
  /** Unseen-feed long polls one user may hold open on one API instance; a new one beyond it answers the oldest at once. */
  LONG_POLLS_PER_USER: Type.Integer({ default: 10, minimum: 1 }),
  /** Event streams one user may hold open on one API instance; a new one beyond it ends the oldest (a final `end` event). */
  EVENT_STREAMS_PER_USER: Type.Integer({ default: 10, minimum: 1 }),
  /** WebSockets one user may hold open on one API instance; a new one beyond it closes the oldest (4409). */
  SOCKETS_PER_USER: Type.Integer({ default: 10, minimum: 1 }),
  /** Request frames one socket may have running at once; a frame beyond it is answered 429 at once. */
  SOCKET_REQUESTS_IN_FLIGHT: Type.Integer({ default: 16, minimum: 1 }),
  /** Typing notices per user (each `typing` start or stop): a client renews a start every few seconds while typing. */
  TYPING_LIMIT_PER_USER: Type.Integer({ default: 30, minimum: 1 }),
  TYPING_LIMIT_WINDOW_SECONDS: Type.Integer({ default: 10, minimum: 1 }),
  /** Rooms with more members than this send no typing notices (Zulip stops at 100): many typists are noise, and costly. */
  TYPING_MAX_ROOM_MEMBERS: Type.Integer({ default: 100, minimum: 2 }),
  /** A user counts as online while a reader of theirs is held, and this long after: a crashed instance stops counting after it. */
  PRESENCE_WINDOW_SECONDS: Type.Number({ default: 60, minimum: 1 }),
  /** "Log out everywhere" per user (revokes every login; each costs a query and a write per login). */
  LOGOUT_ALL_LIMIT_PER_USER: Type.Integer({ default: 10, minimum: 1 }),
  LOGOUT_ALL_LIMIT_WINDOW_SECONDS: Type.Integer({ default: 3600, minimum: 1 }),
  /** Password changes per user, right or wrong: a wrong current password is a guess, and each costs a hash. */
  PASSWORD_CHANGE_LIMIT_PER_USER: Type.Integer({ default: 5, minimum: 1 }),
  PASSWORD_CHANGE_LIMIT_WINDOW_SECONDS: Type.Integer({ default: 15 * 60, minimum: 1 }),
  /**
   * How a wake-up about a room reaches this instance's readers in it: `room` reads the room's news once for all of
   * them; `connection` has each read its whole feed (the former way, kept as the benchmarks' baseline).
   */
  FEED_FANOUT: Type.Union([Type.Literal('room'), Type.Literal('connection')], { default: 'room' }),
  /** A comment line on an idle event stream or socket this often, so proxies keep it open and dead peers show. */
  PUSH_HEARTBEAT_SECONDS: Type.Number({ default: 15, exclusiveMinimum: 0 }),
  /** A stream or socket whose unsent output passes this is closed (slow consumer), rather than growing memory. */
  PUSH_BUFFER_LIMIT_BYTES: Type.Integer({ default: 1024 * 1024, minimum: 1024 }),
  /** A WebSocket with no token in its handshake must send one in its first frame within this time. */
  WS_AUTH_TIMEOUT_SECONDS: Type.Number({ default: 5, exclusiveMinimum: 0 }),
  /**
   * The Postgres text search configuration messages are searched by (`simple`: words as written, any language;
   * `english`, `french`, … stem and drop stop words), accents folded either way. Applied by `npm run db:migrate`:
   * a change re-computes every message's vector.
   */
  SEARCH_LANGUAGE: Type.String({ default: 'simple', pattern: '^[a-z_]+$' })
})

/** Where the JWT secret came from: the environment, the secret file, or nowhere (made for this process alone). */
export type JwtSecretSource = 'environment' | 'file' | 'random'

export type Config = Static<typeof ConfigSchema> & { jwtSecretSource: JwtSecretSource }

/** Reads the environment once; every process calls this at start and passes the result down. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const config = envSchema<Static<typeof ConfigSchema>>({ schema: ConfigSchema, data: env, dotenv: false })
  if (cursorSecrets(config.CURSOR_KEYS).some((secret) => secret.length < 32)) {
    throw new Error('CURSOR_KEYS: each key must be at least 32 characters (for example `openssl rand -base64 32`)')
  }
  if (config.JWT_SECRET !== '') return { ...config, jwtSecretSource: 'environment' }
  const kept = config.JWT_SECRET_FILE === '' ? undefined : secretFromFile(config.JWT_SECRET_FILE)
  if (kept !== undefined) return { ...config, JWT_SECRET: kept, jwtSecretSource: 'file' }
  return { ...config, JWT_SECRET: randomBytes(32).toString('hex'), jwtSecretSource: 'random' }
}

/** The secrets CURSOR_KEYS lists, newest first. */
export function cursorSecrets (keys: string): string[] {
  return keys.split(',').map((key) => key.trim()).filter((key) => key !== '')
}
