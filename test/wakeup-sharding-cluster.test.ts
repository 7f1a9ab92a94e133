import t from 'tap'
import { testRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { wakeupSharding } from './scenarios/wakeup-sharding.js'

// On a 3-master Redis Cluster: each channel lives on the shard its name hashes to.
await wakeupSharding(t, await testConfig(t, { REDIS_CLUSTER_NODES: await testRedisCluster(t) }))
