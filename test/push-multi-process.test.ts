import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { pushMultiProcess } from './scenarios/push-multi-process.js'

// On one Redis; test/push-multi-process-cluster.test.ts runs the same on a Redis Cluster.
await pushMultiProcess(t, await testConfig(t), { workers: 1 })
