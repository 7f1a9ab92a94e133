import type { RoomVisibility, UserStatus } from '../core/db/schema.js'

/** Every demo account's password; the README lists it, so it is never a secret. */
export const demoPassword = 'Passw0rd!'

export interface DemoUser { username: string, displayName: string, status?: UserStatus, statusMessage?: string, isAdmin?: boolean }

const statuses: Record<number, Pick<DemoUser, 'status' | 'statusMessage'>> = {
  1: { status: 'online', statusMessage: 'Trying out Pigeon' },
  2: { status: 'busy', statusMessage: 'In meetings until 3' },
  3: { status: 'online' },
  4: { status: 'offline', statusMessage: 'On holiday, back Monday' },
  6: { status: 'busy', statusMessage: 'Shipping the release' }
}

/** user_1 is the demo admin: it may open the queue dashboard at /admin/queues. */
export const demoUsers: DemoUser[] = Array.from({ length: 15 }, (_, index) => {
  const n = index + 1
  return { username: `user_${n}`, displayName: `User ${n}`, ...statuses[n], isAdmin: n === 1 }
})

/** A line of a seeded conversation: who says what, in order. */
export interface DemoLine { from: string, text: string }

export interface DemoGroupRoom { name: string, creator: string, members: string[], visibility: RoomVisibility, lines: DemoLine[] }
export interface DemoDirectRoom { between: [string, string], lines: DemoLine[] }

const users = (...numbers: number[]) => numbers.map((n) => `user_${n}`)

export const demoGroupRooms: DemoGroupRoom[] = [
  {
    name: 'general',
    creator: 'user_1',
    visibility: 'public',
    members: demoUsers.map((user) => user.username),
    lines: [
      { from: 'user_1', text: 'Welcome to Pigeon, everyone!' },
      { from: 'user_2', text: 'Hi all 👋' },
      { from: 'user_5', text: 'Glad to be here.' },
      { from: 'user_9', text: 'Lunch at noon today?' },
      { from: 'user_12', text: 'Count me in for lunch.' },
      { from: 'user_3', text: 'Reminder: all-hands on Friday at 10.' }
    ]
  },
  {
    name: 'engineering',
    creator: 'user_2',
    visibility: 'private',
    members: users(1, 2, 3, 4, 5, 6),
    lines: [
      { from: 'user_2', text: 'The deploy pipeline is green again.' },
      { from: 'user_4', text: 'Who owns the flaky long-poll test?' },
      { from: 'user_1', text: 'Me, looking at it now.' },
      { from: 'user_6', text: 'Release candidate is tagged, please test it today.' }
    ]
  },
  {
    name: 'random',
    creator: 'user_5',
    visibility: 'public',
    members: users(1, 3, 5, 7, 9),
    lines: [
      { from: 'user_5', text: 'Found a great coffee place around the corner.' },
      { from: 'user_7', text: 'Is it the one with the green door?' },
      { from: 'user_9', text: 'Their croissants are the best in town.' }
    ]
  }
]

export const demoDirectRooms: DemoDirectRoom[] = [
  {
    between: ['user_1', 'user_2'],
    lines: [
      { from: 'user_2', text: 'Do you have a minute to review my pull request?' },
      { from: 'user_1', text: 'Sure, send me the link.' },
      { from: 'user_2', text: 'Thanks! It is the one about idempotency keys.' }
    ]
  },
  {
    between: ['user_1', 'user_3'],
    lines: [
      { from: 'user_3', text: 'Are we still on for the 1:1 tomorrow?' }
    ]
  },
  {
    between: ['user_2', 'user_4'],
    lines: [
      { from: 'user_4', text: 'Can you cover my on-call shift next week?' },
      { from: 'user_2', text: 'Yes, no problem.' }
    ]
  }
]

/** How far user_1 has already read in a room when the demo starts (seq), so the feed shows read and unread. */
export const demoReadUpTo: Array<{ username: string, room: string, seq: number }> = [
  { username: 'user_1', room: 'general', seq: 2 }
]
