import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { startRedis } from './faults.js'
import { faultPostgresCut } from './scenarios/fault-postgres-cut.js'

// On a Redis of the test's own; test/fault-postgres-cut-cluster.test.ts runs it on a Redis Cluster.
t.setTimeout(300_000)

const redis = await startRedis()
t.teardown(redis.kill)
await faultPostgresCut(t, await testConfig(t, { REDIS_URL: redis.url }), { sends: 400 })
