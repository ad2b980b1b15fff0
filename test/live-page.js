// The live part of a frontend, as browser-live.test.ts's pages run it: a copy of
// one user's lists and tasks, filled by GET /api/sync, kept current by an
// EventSource on /api/events (opened with a ticket, since EventSource sends no
// Authorization header), and rendered into the page. Offline, the stream is
// closed; back online, the page syncs from its last cursor and reopens the
// stream there. Every change it applies is noted with how it came.

const live = {
  api: '',
  token: '',
  cursor: null,
  source: null,
  tasks: new Map(),
  lists: new Map(),
  arrivals: [],
  // 'syncing', then 'listening' once the stream is open; 'offline'; or 'failed: <why>'.
  phase: 'idle',
  // Streams opened so far.
  opens: 0,
}

async function call(method, path, body) {
  const headers = { authorization: `Bearer ${live.token}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(live.api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : null }
}

function apply(change, via) {
  const store = change.type === 'task' ? live.tasks : live.lists
  if (change.op === 'delete') store.delete(change.id)
  else store.set(change.id, change.data)
  live.arrivals.push({ via, type: change.type, op: change.op, id: change.id })
}

function render() {
  const items = (store, list) =>
    [...store.values()]
      .sort((a, b) => a.id - b.id)
      .map((item) => {
        const element = document.createElement('li')
        element.dataset.id = String(item.id)
        if (list === 'tasks') element.dataset.completed = String(item.completed)
        element.textContent = item.title ?? item.name
        return element
      })
  document.getElementById('tasks').replaceChildren(...items(live.tasks, 'tasks'))
  document.getElementById('lists').replaceChildren(...items(live.lists, 'lists'))
}

// Every change since the cursor (everything, without one), page by page.
async function catchUp() {
  for (;;) {
    const path = live.cursor === null ? '/api/sync' : `/api/sync?cursor=${encodeURIComponent(live.cursor)}`
    const { status, body } = await call('GET', path)
    if (status === 410) {
      // Deletions this old are forgotten: start again from a snapshot.
      live.cursor = null
      live.tasks.clear()
      live.lists.clear()
      continue
    }
    if (status !== 200) throw new Error(`sync answered ${status}`)
    for (const change of body.changes) apply(change, 'sync')
    live.cursor = body.cursor
    if (!body.has_more) break
  }
  render()
}

async function listen() {
  const { status, body } = await call('POST', '/api/events/ticket')
  if (status !== 200) throw new Error(`ticket answered ${status}`)
  const source = new EventSource(
    `${live.api}/api/events?ticket=${encodeURIComponent(body.ticket)}&cursor=${encodeURIComponent(live.cursor)}`,
  )
  live.source = source
  source.addEventListener('change', (event) => {
    apply(JSON.parse(event.data), 'event')
    live.cursor = event.lastEventId
    render()
  })
  source.addEventListener('reset', () => {
    source.close()
    live.cursor = null
    live.tasks.clear()
    live.lists.clear()
    void resume()
  })
  await new Promise((resolve, reject) => {
    source.addEventListener('open', resolve, { once: true })
    source.addEventListener('error', () => reject(new Error('the stream did not open')), { once: true })
  })
  live.opens += 1
  // A ticket opens one stream: EventSource's own reconnection (the same URL,
  // with Last-Event-ID) is refused, and the page comes back with a new ticket.
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED && live.source === source && navigator.onLine) void resume()
  })
}

async function resume() {
  live.phase = 'syncing'
  try {
    await catchUp()
    await listen()
    live.phase = 'listening'
  } catch (error) {
    live.phase = `failed: ${error.message}`
  }
}

addEventListener('offline', () => {
  live.source?.close()
  live.source = null
  live.phase = 'offline'
})
addEventListener('online', () => void resume())

window.live = live
window.call = call
window.start = async (api, token) => {
  live.api = api
  live.token = token
  await resume()
}
// What the page shows, and what it holds, for the test to compare with the server.
window.shown = () => ({
  tasks: [...document.querySelectorAll('#tasks li')].map((li) => [Number(li.dataset.id), li.textContent, li.dataset.completed === 'true']),
  lists: [...document.querySelectorAll('#lists li')].map((li) => [Number(li.dataset.id), li.textContent]),
})
window.held = () => ({
  tasks: [...live.tasks.values()].sort((a, b) => a.id - b.id),
  lists: [...live.lists.values()].sort((a, b) => a.id - b.id),
})
