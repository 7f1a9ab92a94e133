import t from 'tap'
import { testRedisCluster } from '../harness/redis-cluster.js'
import { testConfig } from '../harness/test-config.js'
import { taskCacheMultiProcess } from './scenarios/task-cache-multi-process.js'

// On a 3-master Redis Cluster: one key per task, each in its own slot.
await taskCacheMultiProcess(t, await testConfig(t, { REDIS_CLUSTER_NODES: await testRedisCluster(t) }))
