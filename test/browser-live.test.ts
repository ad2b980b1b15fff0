// Two devices of one user in headless Chromium, on the frontend's origin, each
// with the live page of test/live-page.js: a sync, then an EventSource opened
// with a ticket, across origins. An edit on one shows on the other without a
// reload; a device that was offline catches up through sync and listens again
// from its cursor; streams the server ends come back by themselves.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, BrowserContext, Page, Response } from 'playwright-core'
import { localLive } from '../src/app'
import { frontendServer, hasChromium, launchChromium, listeningApi, onFailureScreenshot } from './chromium'
import { signedInUser, type User } from './support'

const PAGE = `<!doctype html><html><body>
<h2>Lists</h2><ul id="lists"></ul>
<h2>Tasks</h2><ul id="tasks"></ul>
<script>${await Bun.file(new URL('./live-page.js', import.meta.url)).text()}</script>
</body></html>`

// The longest any wait for the page may take; none is a fixed sleep.
const WAIT_MS = 5000
// Each test takes a few seconds, more on a busy machine.
const TEST_MS = 20_000

type Device = { context: BrowserContext; page: Page; stream: Response }
type Arrival = { via: 'sync' | 'event'; type: string; op: string; id: number }

describe.if(hasChromium)('live changes in a real browser', () => {
  const frontend = frontendServer(PAGE)
  const frontendOrigin = `http://localhost:${frontend.port}`
  const live = localLive()
  const contexts: BrowserContext[] = []
  let api: string
  let stopApi: () => void
  let browser: Browser

  beforeAll(async () => {
    const service = await listeningApi(frontendOrigin, { live })
    api = service.url
    stopApi = service.stop
    browser = await launchChromium()
  })

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()))
  })

  afterAll(async () => {
    await browser?.close()
    stopApi?.()
    frontend.stop(true)
  })

  /** A new user with two devices, both synced and listening. */
  async function twoDevices() {
    const user = await signedInUser('browser-live')
    const [a, b] = await Promise.all([device(user, 'a'), device(user, 'b')])
    return { user, a, b }
  }

  /**
   * A device of `user`'s: its own browser context (so it can go offline
   * alone), the page synced and listening; `stream` is its EventSource's answer.
   */
  async function device(user: User, name: string): Promise<Device> {
    const context = await browser.newContext()
    contexts.push(context)
    const page = await context.newPage()
    await page.goto(`${frontendOrigin}/`)
    const stream = page.waitForResponse((response) => response.url().includes('/api/events?'), { timeout: WAIT_MS })
    await onFailureScreenshot(page, `${name}-start`, async () => {
      await page.evaluate(([base, token]) => (globalThis as any).start(base, token), [api, user.token] as const)
      await inPhase(page, 'listening')
    })
    return { context, page, stream: await stream }
  }

  /** A request the page makes with fetch and its bearer token. */
  function send(page: Page, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    return page.evaluate(([m, p, b]) => (globalThis as any).call(m, p, b), [method, path, body] as const)
  }

  async function inPhase(page: Page, phase: string) {
    await page
      .waitForFunction((wanted) => (globalThis as any).live.phase === wanted, phase, { timeout: WAIT_MS })
      .catch(async (error) => {
        throw new Error(`${error.message}; the page is ${await page.evaluate(() => (globalThis as any).live.phase)}`)
      })
  }

  async function opened(page: Page, streams: number) {
    await page.waitForFunction((count) => (globalThis as any).live.opens >= count, streams, { timeout: WAIT_MS })
  }

  /** Waits until the page shows the task as given (or, with `title` undefined, shows no such task). */
  async function showsTask(page: Page, id: number, title?: string, completed = false) {
    await onFailureScreenshot(page, `task-${id}`, () =>
      page.waitForFunction(
        ([taskId, taskTitle, done]) => {
          const item = (globalThis as any).shown().tasks.find(([shownId]: [number]) => shownId === taskId)
          return taskTitle === undefined ? item === undefined : item?.[1] === taskTitle && item[2] === done
        },
        [id, title, completed] as const,
        { timeout: WAIT_MS },
      ),
    )
  }

  const shown = (page: Page) => page.evaluate(() => (globalThis as any).shown() as { tasks: unknown[]; lists: unknown[] })
  const held = (page: Page) => page.evaluate(() => (globalThis as any).held() as { tasks: any[]; lists: any[] })
  const arrivals = (page: Page) => page.evaluate(() => (globalThis as any).live.arrivals as Arrival[])

  /** The user's lists and tasks as GET answers them, by id. */
  async function onServer(user: User) {
    const get = async (path: string) => {
      const response = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${user.token}` } })
      expect(response.status).toBe(200)
      return ((await response.json()) as { id: number }[]).sort((a, b) => a.id - b.id)
    }
    return { tasks: await get('/api/tasks?limit=100'), lists: await get('/api/lists') }
  }

  /** The page holds exactly the server's lists and tasks, and shows them. */
  async function matchesServer(page: Page, user: User) {
    const server = await onServer(user)
    expect(await held(page)).toEqual(server)
    expect(await shown(page)).toEqual({
      tasks: server.tasks.map((task: any) => [task.id, task.title, task.completed]),
      lists: server.lists.map((list: any) => [list.id, list.name]),
    })
  }

  test(
    'an edit on one device shows on the other without a reload, through a cross-origin EventSource',
    async () => {
      const { user, a, b } = await twoDevices()
      await b.page.evaluate(() => ((globalThis as any).loadedOnce = true))
      // EventSource's GET carries no Authorization header and no cookie; the stream is allowed to the frontend's origin.
      const request = await b.stream.request().allHeaders()
      expect([request.authorization, request.cookie, request.origin]).toEqual([undefined, undefined, frontendOrigin])
      expect(b.stream.status()).toBe(200)
      expect(b.stream.headers()).toMatchObject({ 'content-type': 'text/event-stream', 'access-control-allow-origin': frontendOrigin })

      const created = await send(a.page, 'POST', '/api/tasks', { title: 'Buy milk' })
      expect(created.status).toBe(201)
      const id: number = created.body.id
      await showsTask(b.page, id, 'Buy milk')
      expect((await send(a.page, 'PATCH', `/api/tasks/${id}`, { title: 'Buy oat milk' })).status).toBe(200)
      await showsTask(b.page, id, 'Buy oat milk')
      expect((await send(a.page, 'PATCH', `/api/tasks/${id}/complete`)).status).toBe(200)
      await showsTask(b.page, id, 'Buy oat milk', true)

      // The same page, never reloaded; every change came over its stream.
      expect(await b.page.evaluate(() => (globalThis as any).loadedOnce)).toBe(true)
      const ofTheTask = (await arrivals(b.page)).filter((arrival) => arrival.type === 'task' && arrival.id === id)
      expect(ofTheTask.map((arrival) => arrival.via)).toEqual(['event', 'event', 'event'])
      await matchesServer(b.page, user)
      await showsTask(a.page, id, 'Buy oat milk', true)
      await matchesServer(a.page, user)
    },
    TEST_MS,
  )

  test(
    'a device offline while the other edits and deletes catches up through sync, then listens from its cursor',
    async () => {
      const { user, a, b } = await twoDevices()
      const make = async (title: string, fields: Record<string, unknown> = {}) => {
        const reply = await send(a.page, 'POST', '/api/tasks', { title, ...fields })
        expect(reply.status).toBe(201)
        return reply.body.id as number
      }
      const [, kept, dropped] = [await make('Untouched'), await make('Keep'), await make('Drop')]
      await showsTask(b.page, dropped, 'Drop')

      await b.context.setOffline(true)
      await inPhase(b.page, 'offline')
      const before = await shown(b.page)
      const seenBefore = (await arrivals(b.page)).length

      expect((await send(a.page, 'PATCH', `/api/tasks/${kept}`, { title: 'Keep, renamed' })).status).toBe(200)
      expect((await send(a.page, 'DELETE', `/api/tasks/${dropped}`)).status).toBe(204)
      const weekend = await send(a.page, 'POST', '/api/lists', { name: 'Weekend' })
      expect(weekend.status).toBe(201)
      const hike = await make('Hike', { list_id: weekend.body.id })
      expect((await send(a.page, 'PATCH', `/api/tasks/${hike}/complete`)).status).toBe(200)
      // A has them all through its own stream; B, its stream closed, none of them.
      await showsTask(a.page, hike, 'Hike', true)
      await showsTask(a.page, dropped)
      expect(await shown(b.page)).toEqual(before)

      // A write that lands after B's sync and before its stream opens (held at
      // B's ticket request): the stream, opened at the synced cursor, brings it.
      let gap: number | undefined
      await b.page.route('**/api/events/ticket', async (route) => {
        gap ??= await make('Between sync and stream')
        await route.continue()
      })
      await b.context.setOffline(false)
      await inPhase(b.page, 'listening')
      await showsTask(b.page, gap!, 'Between sync and stream')
      await matchesServer(b.page, user)
      // Everything missed came through sync, the deletion included, and only
      // what changed: the sync started from B's cursor, not from a snapshot.
      // Then the stream, from where the sync ended: nothing came both ways.
      const since = (await arrivals(b.page)).slice(seenBefore)
      const caughtUp = since.filter((arrival) => arrival.via === 'sync')
      const streamed = since.filter((arrival) => arrival.via === 'event')
      const tasks = (changes: Arrival[]) => changes.filter((arrival) => arrival.type === 'task').map(({ op, id }) => [op, id])
      expect(since).toEqual([...caughtUp, ...streamed])
      expect(tasks(caughtUp)).toEqual([
        ['upsert', kept],
        ['delete', dropped],
        ['upsert', hike],
      ])
      expect(caughtUp).toContainEqual({ via: 'sync', type: 'list', op: 'upsert', id: weekend.body.id })
      expect(tasks(streamed)).toEqual([['upsert', gap!]])

      // Then new changes arrive live.
      const after = await make('After the trip')
      await showsTask(b.page, after, 'After the trip')
      const afterwards = (await arrivals(b.page)).slice(seenBefore + since.length)
      expect(afterwards.every((arrival) => arrival.via === 'event')).toBe(true)
      expect(tasks(afterwards)).toEqual([['upsert', after]])
      await matchesServer(b.page, user)
    },
    TEST_MS,
  )

  test(
    'streams the server ends: EventSource retries with Last-Event-ID and its spent ticket (401); the page comes back with a new one, missing nothing',
    async () => {
      const { user, a, b } = await twoDevices()
      const first = await send(a.page, 'POST', '/api/tasks', { title: 'Before' })
      await showsTask(b.page, first.body.id, 'Before')
      const lastEventId: string = await b.page.evaluate(() => (globalThis as any).live.cursor)
      const reconnection = b.page.waitForResponse((response) => response.url().includes('/api/events?'), { timeout: WAIT_MS })

      // As SIGTERM does: the streams end at once (an account deletion would first send what is left).
      live.hub.endAll()
      const meanwhile = await send(a.page, 'POST', '/api/tasks', { title: 'Written while the streams were down' })
      expect(meanwhile.status).toBe(201)
      // EventSource's own reconnection: the same URL, so the spent ticket, with
      // Last-Event-ID. Refused with CORS headers, so the browser sees the 401 and
      // stops retrying, rather than a network error it would retry forever.
      const refused = await reconnection
      expect(refused.status()).toBe(401)
      expect((await refused.request().allHeaders())['last-event-id']).toBe(lastEventId)
      expect(refused.headers()['access-control-allow-origin']).toBe(frontendOrigin)

      await showsTask(b.page, meanwhile.body.id, 'Written while the streams were down')
      await Promise.all([opened(a.page, 2), opened(b.page, 2)])
      expect(live.hub.count(user.id)).toBe(2)
      const later = await send(a.page, 'POST', '/api/tasks', { title: 'And after' })
      await showsTask(b.page, later.body.id, 'And after')
      await matchesServer(b.page, user)
    },
    TEST_MS,
  )
})
