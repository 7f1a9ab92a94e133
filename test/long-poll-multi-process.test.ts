import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { longPollMultiProcess } from './scenarios/long-poll-multi-process.js'

// On one Redis; test/long-poll-multi-process-cluster.test.ts runs the same on a Redis Cluster.
await longPollMultiProcess(t, await testConfig(t), { workers: 1 })
