// The /demo page: static HTML and a little JavaScript (no build step), chatting over /v1/ws: rooms, messages, who is
// online and who is typing.
// The script is a file of its own rather than inline, so a Content-Security-Policy of script-src 'self' allows it.

export const demoHtml = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Pigeon demo</title>
  <link rel="stylesheet" href="/demo/demo.css">
  <script type="module" src="/demo/demo.js"></script>
</head>
<body>
  <header>
    <h1>Pigeon</h1>
    <p id="session" hidden>Logged in as <b id="me"></b> <button type="button" id="logout">Log out</button></p>
  </header>
  <form id="login">
    <p>Log in as a demo user (user_1 … user_15, password Passw0rd!), and as another one in a second window.</p>
    <input id="username" value="user_1" autocomplete="username" aria-label="username">
    <input id="password" type="password" value="Passw0rd!" autocomplete="current-password" aria-label="password">
    <button>Log in</button>
  </form>
  <p id="status" role="status"></p>
  <main id="chat" hidden>
    <nav aria-label="rooms"><ul id="rooms"></ul></nav>
    <section>
      <h2 id="room-name"></h2>
      <ul id="members" aria-label="members"></ul>
      <ol id="log"></ol>
      <p id="typing" aria-live="polite"></p>
      <form id="send">
        <input id="text" autocomplete="off" maxlength="4000" aria-label="message" placeholder="Say something">
        <button id="send-button">Send</button>
        <button type="button" id="cancel-edit" hidden>Cancel</button>
      </form>
    </section>
  </main>
</body>
</html>
`

export const demoCss = `[hidden] { display: none !important }
body { font: 16px/1.4 system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem }
header { display: flex; align-items: baseline; justify-content: space-between; gap: 1rem }
#chat { display: grid; grid-template-columns: 12rem 1fr; gap: 1rem }
#rooms { list-style: none; padding: 0; margin: 0 }
#rooms button { width: 100%; text-align: left; padding: .4rem .5rem; margin-bottom: .25rem; border: 1px solid #ccc; border-radius: 4px; background: #fff; cursor: pointer }
#rooms button[aria-current] { background: #e8f0fe; border-color: #245 }
.unread { float: right; min-width: 1.4em; text-align: center; border-radius: 1em; background: #245; color: #fff; font-size: .8em; padding: 0 .35em }
#room-name { margin: 0 0 .25rem; font-size: 1.1rem }
#members { list-style: none; display: flex; flex-wrap: wrap; gap: 0 1rem; padding: 0; margin: 0 0 .5rem; font-size: .9em }
.dot { display: inline-block; box-sizing: border-box; width: .7em; height: .7em; border-radius: 50%; margin-right: .3em; border: 1px solid #888 }
.dot.online { background: #2a2; border-color: #2a2 } .dot.idle { background: #eb0; border-color: #b90 } .dot.busy { background: #c33; border-color: #c33 }
#log { list-style: none; min-height: 12rem; max-height: 60vh; overflow-y: auto; border: 1px solid #ccc; border-radius: 4px; padding: .5rem; margin: 0 0 .5rem }
#log li { padding: .15rem 0 }
#log li.mine { color: #245 }
#log li.deleted .text { font-style: italic; color: #888 }
#log time, .edited { color: #888; font-size: .8em }
#log .actions button { font-size: .75em; margin-left: .25rem }
#typing { min-height: 1.4em; margin: 0 0 .25rem; color: #666; font-size: .9em; font-style: italic }
#send { display: flex; gap: .5rem } #text { flex: 1 }
`

export const demoJs = `const $ = (id) => document.getElementById(id)

// The session: tokens from POST /v1/auth/token (then /refresh), and the socket that carries the feed and requests.
let tokens
let username
let me
let socket
let readySocket
let lastCursor
let refreshTimer
let reconnectTimer
let reconnectDelay = 500
let loggedIn = false

const pending = new Map()
let nextRequestId = 0
const names = new Map()
const presence = new Map()
const asked = new Set()
const rooms = new Map()
let roomsLoaded = false
// Events wait here until the users and rooms they name are read.
let caughtUp = false
const early = []
let openRoomId
let editingId

function say (text) { $('status').textContent = text }

// A request over the socket, answered by the same routes as HTTP: { id, method, path, body } -> { id, status, body }.
// It goes over the last socket that said ready: while a new one connects, the one it replaces still serves.
async function request (method, path, body) {
  const via = readySocket
  if (via === undefined || via.readyState !== WebSocket.OPEN) return { status: 0, body: { detail: 'not connected; try again in a moment' } }
  return await new Promise((resolve) => {
    const id = ++nextRequestId
    pending.set(id, { resolve, via })
    via.send(JSON.stringify({ id, method, path, body }))
  })
}

async function post (path, body) {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, body: response.status === 204 ? null : await response.json() }
}

// --- Who is who, and who is here: online, idle, busy or offline

function learn (user) {
  names.set(user.id, user.displayName || user.username)
  presence.set(user.id, user.presence)
}

function nameOf (userId) {
  if (userId === null) return 'a deleted account'
  if (!names.has(userId) && !asked.has(userId)) {
    asked.add(userId)
    request('GET', '/v1/users/' + userId).then((answer) => {
      if (answer.status !== 200) return
      learn(answer.body)
      for (const element of document.querySelectorAll('[data-user-id="' + userId + '"]')) element.textContent = nameOf(userId)
      renderRooms()
      renderMembers()
    })
  }
  return names.get(userId) ?? 'user ' + userId
}

// Read on every connect: a presence.changed pushed while no socket was open is lost.
async function loadUsers () {
  const answer = await request('GET', '/v1/users?limit=200')
  for (const user of answer.body?.items ?? []) learn(user)
  renderMembers()
}

// The open room's members, each with a dot for their presence.
function renderMembers () {
  $('members').replaceChildren(...(rooms.get(openRoomId)?.memberIds ?? []).map((userId) => {
    const state = presence.get(userId) ?? 'offline'
    const dot = document.createElement('span')
    dot.className = 'dot ' + state
    dot.title = state
    dot.setAttribute('role', 'img')
    dot.setAttribute('aria-label', state)
    const item = document.createElement('li')
    item.dataset.memberId = userId
    item.dataset.presence = state
    item.append(dot, nameOf(userId))
    return item
  }))
}

// A page out of sight says its user is idle, and active once seen again; others see it while the user is online.
function tellPresence () {
  if (readySocket?.readyState === WebSocket.OPEN) readySocket.send(JSON.stringify({ type: 'presence', presence: document.hidden ? 'idle' : 'active' }))
}

document.addEventListener('visibilitychange', tellPresence)

// --- Who is typing in which room: a start stands for 10 s unless said again; a stop ends it at once.

const typers = new Map()

function heardTyping ({ roomId, userId, typing }) {
  if (!typers.has(roomId)) typers.set(roomId, new Map())
  const inRoom = typers.get(roomId)
  clearTimeout(inRoom.get(userId))
  if (typing) inRoom.set(userId, setTimeout(heardTyping, 10000, { roomId, userId, typing: false }))
  else inRoom.delete(userId)
  if (roomId === openRoomId) renderTyping()
}

function renderTyping () {
  const who = [...(typers.get(openRoomId)?.keys() ?? [])].map(nameOf)
  $('typing').textContent = who.length === 0 ? '' : who.join(', ') + (who.length === 1 ? ' is' : ' are') + ' typing…'
}

// My own typing, told to the open room: a start as I begin, again every 5 s while I go on (before the 10 s are up),
// a stop when I send, empty the box, leave it or the room. Editing a message is not typing one.
let typingIn
let typingSaidAt = 0

function sayTyping (typing) {
  const roomId = typing ? openRoomId : typingIn
  if (roomId === undefined || readySocket?.readyState !== WebSocket.OPEN) return
  if (typing && typingIn === roomId && Date.now() - typingSaidAt < 5000) return
  readySocket.send(JSON.stringify({ type: 'typing', roomId, typing }))
  typingIn = typing ? roomId : undefined
  typingSaidAt = Date.now()
}

// --- Rooms, with unread counts

function roomName (room) {
  if (room.name !== null) return room.name
  const others = room.memberIds.filter((id) => id !== me)
  return others.length === 0 ? 'direct' : others.map(nameOf).join(' & ')
}

function addRoom (room) {
  const known = rooms.get(room.id)
  rooms.set(room.id, { id: room.id, name: room.name, memberIds: room.memberIds, unread: room.unreadCount, lastSeq: known?.lastSeq ?? room.lastMessage?.seq ?? 0 })
}

function renderRooms () {
  $('rooms').replaceChildren(...[...rooms.values()].map((room) => {
    const button = document.createElement('button')
    button.type = 'button'
    button.dataset.roomId = room.id
    button.textContent = roomName(room)
    if (room.id === openRoomId) button.setAttribute('aria-current', 'true')
    if (room.unread > 0 && room.id !== openRoomId) {
      const count = document.createElement('span')
      count.className = 'unread'
      count.textContent = room.unread
      count.title = room.unread + ' unread'
      button.append(' ', count)
    }
    const item = document.createElement('li')
    item.append(button)
    return item
  }))
}

async function loadRooms () {
  const answer = await request('GET', '/v1/rooms?limit=200')
  if (answer.status !== 200) return
  for (const room of answer.body.items) addRoom(room)
  roomsLoaded = true
  renderRooms()
}

async function fetchRoom (roomId) {
  const answer = await request('GET', '/v1/rooms/' + roomId)
  if (answer.status !== 200) return
  addRoom(answer.body)
  renderRooms()
  renderMembers()
}

function markRead (room) {
  if (room.lastSeq > 0) request('POST', '/v1/rooms/' + room.id + '/read', { seq: room.lastSeq })
}

async function openRoom (roomId) {
  const room = rooms.get(roomId)
  if (room === undefined) return
  if (openRoomId !== roomId) {
    sayTyping(false)
    openRoomId = roomId
    stopEditing()
    $('log').replaceChildren()
    $('room-name').textContent = roomName(room)
  }
  room.unread = 0
  renderRooms()
  renderMembers()
  renderTyping()
  const history = await request('GET', '/v1/rooms/' + roomId + '/messages?limit=50')
  if (openRoomId !== roomId || history.status !== 200) return
  for (const message of history.body.items) show(message)
  markRead(room)
}

// --- Messages, as they are now

function time (iso) {
  const when = new Date(iso)
  const element = document.createElement('time')
  element.dateTime = iso
  element.title = when.toLocaleString()
  const today = when.toDateString() === new Date().toDateString()
  element.textContent = (today ? '' : when.toLocaleDateString([], { day: 'numeric', month: 'short' }) + ' ') +
    when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  return element
}

function button (label, className) {
  const element = document.createElement('button')
  element.type = 'button'
  element.className = className
  element.textContent = label
  return element
}

// Adds a message to the open room's log, or replaces the one with its id (an edit, a delete), in seq order.
function show (message) {
  if (message.roomId !== openRoomId) return
  const item = document.createElement('li')
  item.dataset.id = message.id
  item.dataset.seq = message.seq
  const mine = message.senderId === me
  const deleted = message.deletedAt !== null
  item.className = (mine ? 'mine' : '') + (deleted ? ' deleted' : '')
  const who = document.createElement('b')
  who.className = 'who'
  who.dataset.userId = message.senderId
  who.textContent = nameOf(message.senderId)
  const text = document.createElement('span')
  text.className = 'text'
  text.textContent = deleted ? 'message deleted' : message.text
  item.append(time(message.createdAt), ' ', who, ' ', text)
  if (message.editedAt !== null && !deleted) {
    const edited = document.createElement('small')
    edited.className = 'edited'
    edited.title = 'edited ' + new Date(message.editedAt).toLocaleString()
    edited.textContent = ' (edited)'
    item.append(edited)
  }
  if (mine && !deleted) {
    const actions = document.createElement('span')
    actions.className = 'actions'
    actions.append(button('Edit', 'edit'), button('Delete', 'delete'))
    item.append(' ', actions)
  }
  const existing = $('log').querySelector('[data-id="' + message.id + '"]')
  if (existing !== null) {
    existing.replaceWith(item)
    if (editingId === message.id && deleted) stopEditing()
    return
  }
  const after = [...$('log').children].find((other) => Number(other.dataset.seq) > message.seq)
  $('log').insertBefore(item, after ?? null)
}

// A new message: counted unread in a room that is not open, shown and read in the one that is.
function arrived (message) {
  const room = rooms.get(message.roomId)
  if (room === undefined) { fetchRoom(message.roomId); return }
  const isNew = message.seq > room.lastSeq
  room.lastSeq = Math.max(room.lastSeq, message.seq)
  if (message.roomId === openRoomId) {
    show(message)
    if (isNew && message.senderId !== me) markRead(room)
  } else if (isNew && message.senderId !== me) {
    room.unread += 1
    renderRooms()
  }
}

// Unread counts are this page's own from the list it loaded: a resume acknowledges what the page was pushed (the
// server then counts it seen), but the person has not opened those rooms yet. So read.updated is not applied here.
function handle (frame) {
  if (!caughtUp) { early.push(frame); return }
  if (frame.type === 'message.created') arrived(frame.data)
  else if (frame.type === 'message.edited' || frame.type === 'message.deleted') show(frame.data)
  else if (frame.type === 'task.finished') finished(frame.data)
  else if (frame.type === 'member.left' && frame.data.userId === me) left(frame.data.roomId)
  else if (frame.type === 'member.joined' || frame.type === 'member.left') fetchRoom(frame.data.roomId)
  else if (frame.type === 'typing') heardTyping(frame.data)
  else if (frame.type === 'presence.changed') {
    presence.set(frame.data.userId, frame.data.presence)
    renderMembers()
  }
}

// My own sends, edits and deletes come back as finished tasks: the message as stored or as changed.
function finished (task) {
  if (task.state === 'failed') { say('Not done: ' + task.error.message); return }
  if (task.result === null) return
  if (task.kind === 'send-message') arrived(task.result)
  else show(task.result)
}

function left (roomId) {
  rooms.delete(roomId)
  if (openRoomId === roomId) {
    openRoomId = undefined
    $('log').replaceChildren()
    renderMembers()
    renderTyping()
    const first = rooms.keys().next().value
    if (first !== undefined) openRoom(first)
  }
  renderRooms()
}

// --- Writing: send, edit, delete

function startEditing (item) {
  editingId = Number(item.dataset.id)
  $('text').value = item.querySelector('.text').textContent
  $('send-button').textContent = 'Save'
  $('cancel-edit').hidden = false
  $('text').focus()
}

function stopEditing () {
  editingId = undefined
  $('text').value = ''
  $('send-button').textContent = 'Send'
  $('cancel-edit').hidden = true
}

$('send').addEventListener('submit', async (event) => {
  event.preventDefault()
  const text = $('text').value
  if (text.trim() === '' || openRoomId === undefined) return
  sayTyping(false)
  const answer = editingId === undefined
    ? await request('POST', '/v1/rooms/' + openRoomId + '/messages', { text })
    : await request('PATCH', '/v1/messages/' + editingId, { text })
  if (answer.status === 202) stopEditing()
  else say('Not sent: ' + answer.body.detail)
})

$('cancel-edit').addEventListener('click', stopEditing)

$('text').addEventListener('input', () => sayTyping(editingId === undefined && $('text').value.trim() !== ''))
$('text').addEventListener('blur', () => sayTyping(false))

$('log').addEventListener('click', async (event) => {
  const item = event.target.closest('li')
  if (event.target.matches('button.edit')) startEditing(item)
  if (event.target.matches('button.delete') && confirm('Delete this message for everyone?')) {
    const answer = await request('DELETE', '/v1/messages/' + item.dataset.id)
    if (answer.status !== 202) say('Not deleted: ' + answer.body.detail)
  }
})

$('rooms').addEventListener('click', (event) => {
  const target = event.target.closest('button[data-room-id]')
  if (target !== null) openRoom(Number(target.dataset.roomId))
})

// --- The connection: the socket, its token refreshed before it expires, resumed from the last cursor

function connect () {
  clearTimeout(reconnectTimer)
  const url = new URL('/v1/ws', location.href)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  if (lastCursor !== undefined) url.searchParams.set('cursor', lastCursor)
  const previous = socket
  const ws = new WebSocket(url, ['pigeon.v1', 'bearer.' + tokens.accessToken])
  socket = ws
  ws.onmessage = async (event) => {
    const frame = JSON.parse(event.data)
    if (pending.has(frame.id)) { pending.get(frame.id).resolve(frame); pending.delete(frame.id); return }
    // Events come from the newest socket only: it resumed from the last cursor, so it sends again what came after.
    if (ws !== socket) return
    if (frame.cursor !== undefined) lastCursor = frame.cursor
    if (frame.type !== 'ready') { handle(frame); return }
    readySocket = ws
    retire(previous)
    reconnectDelay = 500
    me = frame.userId
    say('')
    tellPresence()
    caughtUp = false
    await loadUsers()
    if (!roomsLoaded) await loadRooms()
    if (!roomsLoaded) return
    caughtUp = true
    for (const frame of early.splice(0)) handle(frame)
    // Whatever changed while no socket was open (my own tasks are not in the feed): the open room as it is now.
    if (openRoomId === undefined) openRoom(rooms.keys().next().value)
    else openRoom(openRoomId)
  }
  ws.onclose = (event) => {
    for (const [id, request] of pending) {
      if (request.via !== ws) continue
      request.resolve({ id, status: 0, body: { detail: 'the connection closed; try again' } })
      pending.delete(id)
    }
    if (ws !== socket || !loggedIn) return
    if (event.code === 4401) { renew(); return }
    say('Reconnecting (' + event.code + ' ' + event.reason + ')…')
    reconnectTimer = setTimeout(connect, reconnectDelay)
    reconnectDelay = Math.min(reconnectDelay * 2, 30000)
  }
}

// A replaced socket closes once it has answered the requests it carries.
function retire (old) {
  if (old === undefined) return
  if ([...pending.values()].some((request) => request.via === old)) setTimeout(retire, 500, old)
  else old.close(1000, 'replaced')
}

function keep (fresh) {
  tokens = fresh
  clearTimeout(refreshTimer)
  // Three quarters into the access token's life: time to spare for a slow answer.
  refreshTimer = setTimeout(renew, fresh.expiresIn * 750)
}

// One refresh at a time: a refresh token works once, and presenting it twice would end the session.
let renewing
function renew () {
  renewing ??= refresh().finally(() => { renewing = undefined })
  return renewing
}

async function refresh () {
  let answer
  try {
    answer = await post('/v1/auth/refresh', { refreshToken: tokens.refreshToken })
  } catch {
    answer = { status: 0 }
  }
  if (!loggedIn) return
  if (answer.status === 200) {
    keep(answer.body)
    connect()
  } else if (answer.status === 401) {
    logOut('Your session ended (' + answer.body.detail + '): log in again.')
  } else {
    say('Cannot reach the server; trying again…')
    refreshTimer = setTimeout(renew, reconnectDelay)
    reconnectDelay = Math.min(reconnectDelay * 2, 30000)
  }
}

function logOut (why) {
  sayTyping(false)
  loggedIn = false
  clearTimeout(refreshTimer)
  clearTimeout(reconnectTimer)
  socket?.close(1000, 'logged out')
  socket = undefined
  readySocket = undefined
  tokens = undefined
  lastCursor = undefined
  openRoomId = undefined
  roomsLoaded = false
  caughtUp = false
  early.length = 0
  rooms.clear()
  stopEditing()
  $('log').replaceChildren()
  $('rooms').replaceChildren()
  $('members').replaceChildren()
  $('typing').textContent = ''
  $('chat').hidden = true
  $('session').hidden = true
  $('login').hidden = false
  say(why)
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault()
  const answer = await post('/v1/auth/token', { username: $('username').value, password: $('password').value })
  if (answer.status !== 200) { say('Login failed: ' + answer.body.detail); return }
  username = $('username').value
  loggedIn = true
  keep(answer.body)
  $('login').hidden = true
  $('me').textContent = username
  $('session').hidden = false
  $('chat').hidden = false
  say('Connecting…')
  connect()
})

$('logout').addEventListener('click', async () => {
  const refreshToken = tokens?.refreshToken
  logOut('Logged out.')
  if (refreshToken !== undefined) await post('/v1/auth/logout', { refreshToken })
})
`
