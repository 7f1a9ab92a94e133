import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { taskCacheMultiProcess } from './scenarios/task-cache-multi-process.js'

// On one Redis; test/task-cache-multi-process-cluster.test.ts runs the same on a Redis Cluster.
await taskCacheMultiProcess(t, await testConfig(t))
