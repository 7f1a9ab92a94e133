import { Redis } from 'ioredis'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { startRedis } from './faults.js'
import { faultRedisFlush } from './scenarios/fault-redis-flush.js'

// On a Redis of the test's own; test/fault-redis-flush-cluster.test.ts does it to a Redis Cluster.
t.setTimeout(300_000)

const redis = await startRedis()
t.teardown(redis.kill)
await faultRedisFlush(t, await testConfig(t, { REDIS_URL: redis.url }), async () => {
  const client = new Redis(redis.url)
  await client.flushall()
  client.disconnect()
})
