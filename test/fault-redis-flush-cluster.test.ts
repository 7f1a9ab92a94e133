import t from 'tap'
import { startRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { faultRedisFlush } from './scenarios/fault-redis-flush.js'

// Every master of a Redis Cluster flushed (an operator's FLUSHALL on each, a failover of every shard to an empty
// replica): the send queue, the users cache and the rate-limit counters lose everything, on whichever master each
// lives. test/fault-redis-flush.test.ts does it to one Redis.
t.setTimeout(300_000)

// A cluster of the test's own, never the shared one (TEST_REDIS_CLUSTER_NODES): FLUSHALL would wipe other tests' keys.
const cluster = await startRedisCluster()
t.teardown(cluster.stop)
await faultRedisFlush(t, await testConfig(t, { REDIS_CLUSTER_NODES: cluster.nodes }), cluster.flushAll)
