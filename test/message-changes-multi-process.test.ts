import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { messageChangesMultiProcess } from './scenarios/message-changes-multi-process.js'

// On one Redis; test/message-changes-multi-process-cluster.test.ts runs the same on a Redis Cluster.
await messageChangesMultiProcess(t, await testConfig(t), { workers: 1 })
