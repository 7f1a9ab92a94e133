/**
 * What chose the wake-up channels: a message into a big room costs one publish per member if channels are per user,
 * one if they are per room; an instance holding users who are in many rooms subscribes to one channel per user, or
 * to every room of every user it holds. Both costs measured on Redis itself (sharded pub/sub), on 127.0.0.1:
 *
 *   npm run bench:channels -- [--members=2000] [--users=2000] [--rooms-per-user=200] [--rooms=20000]
 *
 * - publish: one message to a room of `members`, every member held by one subscriber: time until all arrived, and
 *   Redis CPU (INFO cpu) per message, per-user channels against one room channel;
 * - subscribe: `users` users, each in `rooms-per-user` rooms drawn from `rooms`: how many channels an instance holds
 *   either way, how long SSUBSCRIBE of all of them takes, and the Redis memory they use.
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { progress } from './support.js'

const { values: args } = parseArgs({
  options: {
    members: { type: 'string', default: '2000' },
    users: { type: 'string', default: '2000' },
    'rooms-per-user': { type: 'string', default: '200' },
    rooms: { type: 'string', default: '20000' },
    messages: { type: 'string', default: '50' }
  }
})
const members = Number(args.members)
const users = Number(args.users)
const roomsPerUser = Number(args['rooms-per-user'])
const roomCount = Number(args.rooms)
const messages = Number(args.messages)
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `bench-channels-${randomUUID().slice(0, 8)}`

async function info (redis: Redis, field: string): Promise<number> {
  const text = await redis.info()
  return Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(text)?.[1] ?? Number.NaN)
}
const redisCpu = async (redis: Redis) => await info(redis, 'used_cpu_sys') + await info(redis, 'used_cpu_user')

/** Subscribes to `channels` (in batches of one command each, as the API does) and resolves when Redis confirmed all. */
async function subscribeAll (subscriber: Redis, channels: string[]): Promise<number> {
  const began = performance.now()
  for (let i = 0; i < channels.length; i += 1000) await Promise.all(channels.slice(i, i + 1000).map(async (channel) => await subscriber.ssubscribe(channel)))
  return performance.now() - began
}

async function publishCost (unit: 'user' | 'room'): Promise<{ msPerMessage: number, cpuUsPerMessage: number, publishes: number }> {
  const subscriber = new Redis(url)
  const publisher = new Redis(url)
  const channels = unit === 'user' ? Array.from({ length: members }, (_, i) => `${prefix}:user:${i}`) : [`${prefix}:room:1`]
  await subscribeAll(subscriber, channels)
  let received = 0
  subscriber.on('smessage', () => { received++ })
  const perMessage = channels.length
  const cpuBefore = await redisCpu(publisher)
  const began = performance.now()
  for (let m = 0; m < messages; m++) {
    const payload = JSON.stringify({ type: 'room-message', roomId: 1, seq: m + 1, acceptedAt: Date.now() })
    await Promise.all(channels.map(async (channel) => await publisher.spublish(channel, payload)))
    const expected = (m + 1) * perMessage
    await new Promise<void>((resolve) => {
      const check = () => { if (received >= expected) resolve(); else setImmediate(check) }
      check()
    })
  }
  const ms = performance.now() - began
  const cpu = await redisCpu(publisher) - cpuBefore
  subscriber.disconnect()
  publisher.disconnect()
  return { msPerMessage: ms / messages, cpuUsPerMessage: (cpu * 1e6) / messages, publishes: perMessage }
}

async function subscribeCost (unit: 'user' | 'room'): Promise<{ channels: number, ms: number, bytesPerChannel: number }> {
  // A fixed draw, so both units see the same memberships.
  let state = 42
  const next = () => { state = (state * 1103515245 + 12345) % 2147483648; return state / 2147483648 }
  const held = new Set<string>()
  for (let user = 0; user < users; user++) {
    held.add(`${prefix}:user:${user}`)
    if (unit === 'room') for (let i = 0; i < roomsPerUser; i++) held.add(`${prefix}:room:${Math.floor(next() * roomCount)}`)
  }
  const probe = new Redis(url)
  const memoryBefore = await info(probe, 'used_memory')
  const subscriber = new Redis(url)
  const ms = await subscribeAll(subscriber, [...held])
  const memoryAfter = await info(probe, 'used_memory')
  subscriber.disconnect()
  probe.disconnect()
  return { channels: held.size, ms, bytesPerChannel: (memoryAfter - memoryBefore) / held.size }
}

progress(`publishing ${messages} messages to a room of ${members}, each way`)
const perUser = await publishCost('user')
const perRoom = await publishCost('room')
progress(`subscribing ${users} users in ${roomsPerUser} rooms each (of ${roomCount}), each way`)
const subUser = await subscribeCost('user')
const subRoom = await subscribeCost('room')

console.log(`\nWake-up channels on one Redis (sharded pub/sub): one message into a room of ${members} members, all held by one instance:\n`)
console.log('| channel per | publishes per message | message to all members | Redis CPU per message |')
console.log('| --- | --- | --- | --- |')
for (const [unit, cost] of [['user', perUser], ['room', perRoom]] as const) {
  console.log(`| ${unit} | ${cost.publishes} | ${cost.msPerMessage.toFixed(2)} ms | ${cost.cpuUsPerMessage.toFixed(0)} µs |`)
}
console.log(`\nOne instance holding ${users} users, each in ${roomsPerUser} rooms drawn from ${roomCount}:\n`)
console.log('| channels per | channels subscribed | SSUBSCRIBE of all | Redis memory per channel |')
console.log('| --- | --- | --- | --- |')
for (const [unit, cost] of [['user only', subUser], ['user and room', subRoom]] as const) {
  console.log(`| ${unit} | ${cost.channels} | ${cost.ms.toFixed(0)} ms | ${cost.bytesPerChannel.toFixed(0)} B |`)
}
