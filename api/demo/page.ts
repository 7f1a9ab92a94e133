// The /demo page: static HTML and a little JavaScript (no build step), chatting over /v1/ws.
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
  <h1>Pigeon</h1>
  <form id="login">
    <input id="username" value="user_1" autocomplete="username" aria-label="username">
    <input id="password" type="password" value="Passw0rd!" autocomplete="current-password" aria-label="password">
    <button>Log in</button>
  </form>
  <p id="status">Log in as a demo user (user_1 … user_15, password Passw0rd!), and as another one in a second window.</p>
  <div id="chat" hidden>
    <label>Room <select id="room"></select></label>
    <ol id="log"></ol>
    <form id="send">
      <input id="text" autocomplete="off" maxlength="4000" aria-label="message" placeholder="Say something">
      <button>Send</button>
    </form>
  </div>
</body>
</html>
`

export const demoCss = `body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem }
#log { list-style: none; padding: 0; min-height: 10rem; border: 1px solid #ccc; border-radius: 4px; padding: .5rem }
#log li.mine { text-align: right; color: #245 }
#send { display: flex; gap: .5rem } #text { flex: 1 }
`

export const demoJs = `const $ = (id) => document.getElementById(id)
const pending = new Map()
const names = new Map()
let socket
let me
let roomId
let nextId = 0

// A request over the socket, answered by the same routes as HTTP: { id, method, path, body } -> { id, status, body }.
function request (method, path, body) {
  return new Promise((resolve) => {
    const id = ++nextId
    pending.set(id, resolve)
    socket.send(JSON.stringify({ id, method, path, body }))
  })
}

function show (message) {
  if (message.roomId !== roomId || document.querySelector('#log [data-id="' + message.id + '"]')) return
  const item = document.createElement('li')
  item.dataset.id = message.id
  item.className = message.senderId === me ? 'mine' : ''
  item.textContent = (names.get(message.senderId) ?? 'user ' + message.senderId) + ': ' + message.text
  $('log').append(item)
}

async function openRoom () {
  roomId = Number($('room').value)
  $('log').replaceChildren()
  const history = await request('GET', '/v1/rooms/' + roomId + '/messages?limit=50')
  history.body.items.reverse().forEach(show)
}

async function ready (userId) {
  me = userId
  $('status').textContent = 'Connected as ' + $('username').value + ' (user ' + me + ')'
  const users = await request('GET', '/v1/users?limit=200')
  for (const user of users.body.items) names.set(user.id, user.displayName || user.username)
  const rooms = await request('GET', '/v1/rooms?limit=200')
  $('room').replaceChildren(...rooms.body.items.map((room) => new Option(room.name ?? 'direct ' + room.memberIds.join(' & '), room.id)))
  $('chat').hidden = false
  await openRoom()
}

function connect (token) {
  const url = new URL('/v1/ws', location.href)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  socket = new WebSocket(url, ['pigeon.v1', 'bearer.' + token])
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data)
    if (frame.type === 'ready') ready(frame.userId)
    else if (pending.has(frame.id)) { pending.get(frame.id)(frame); pending.delete(frame.id) }
    else if (frame.type === 'message.created') show(frame.data)
    // My own sends come back as finished tasks: the stored message, with its seq.
    else if (frame.type === 'task.finished' && frame.data.result) show(frame.data.result)
  }
  socket.onclose = (event) => { $('status').textContent = 'Disconnected (' + event.code + ' ' + event.reason + '): log in again' }
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault()
  const response = await fetch('/v1/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: $('username').value, password: $('password').value })
  })
  if (!response.ok) { $('status').textContent = 'Login failed: ' + (await response.json()).detail; return }
  socket?.close()
  connect((await response.json()).accessToken)
})

$('room').addEventListener('change', openRoom)

$('send').addEventListener('submit', async (event) => {
  event.preventDefault()
  const text = $('text').value
  if (text.trim() === '') return
  const answer = await request('POST', '/v1/rooms/' + roomId + '/messages', { text })
  if (answer.status === 202) $('text').value = ''
  else $('status').textContent = 'Not sent: ' + answer.body.detail
})
`
