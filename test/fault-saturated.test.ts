import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { startRedis } from './faults.js'
import { faultSaturated } from './scenarios/fault-saturated.js'

// On a Redis of the test's own; test/fault-saturated-cluster.test.ts runs it on a Redis Cluster.
t.setTimeout(400_000)

const redis = await startRedis()
t.teardown(redis.kill)
await faultSaturated(t, await testConfig(t, { REDIS_URL: redis.url }), { sends: 300 })
