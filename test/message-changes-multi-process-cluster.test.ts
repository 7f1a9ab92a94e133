import t from 'tap'
import { testRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { messageChangesMultiProcess } from './scenarios/message-changes-multi-process.js'

// On a 3-master Redis Cluster, with two workers.
await messageChangesMultiProcess(t, await testConfig(t, { REDIS_CLUSTER_NODES: await testRedisCluster(t) }), { workers: 2 })
