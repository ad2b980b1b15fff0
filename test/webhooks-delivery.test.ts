// Deliveries: the worker driven by hand (tick at an injected time), sending
// to receivers on loopback that the tests start themselves.
import { afterAll, describe, expect, test } from 'bun:test'
import { and, eq, inArray } from 'drizzle-orm'
import { Webhook } from 'standardwebhooks'
import { createApp } from '../src/app'
import { transaction } from '../src/db/operations'
import { webhookDeliveries, webhooks } from '../src/db/schema'
import { createHub } from '../src/events/hub'
import { localNotifier } from '../src/events/notifier'
import { sweep } from '../src/housekeeping'
import { recordAttempt, takeDue } from '../src/webhooks/outbox'
import { enqueueWebhookEvent, enqueueWebhookEvents } from '../src/webhooks/queries'
import { createWebhookWorker, wakingWebhooks } from '../src/webhooks/worker'
import { createTask, database, logger, signedInUser, signedUpUser, testConfig, type User } from './support'

type Received = { headers: Record<string, string>; body: string }

/**
 * A receiver on loopback answering each request with the next status of `statuses` (the last one repeats),
 * after `onRequest` (told how many it has received) if given.
 */
function receiver(statuses: number[] = [204], onRequest?: (count: number) => void) {
  const received: Received[] = []
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      received.push({ headers: Object.fromEntries(request.headers), body: await request.text() })
      onRequest?.(received.length)
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)]!
      return status >= 300 && status < 400
        ? new Response(null, { status, headers: { location: 'http://127.0.0.1:1/elsewhere' } })
        : new Response(status === 204 ? null : 'ok', { status })
    },
  })
  servers.push(server)
  return { received, url: `http://127.0.0.1:${server.port}/hook` }
}
const servers: ReturnType<typeof Bun.serve>[] = []
afterAll(() => {
  for (const server of servers) server.stop(true)
})

const worker = (allowLoopback = true) =>
  createWebhookWorker({ db: database.db, logger, policy: { allowLoopback, requireHttps: false }, random: () => 0.5 })

async function register(user: User, url: string, events: string[]) {
  const reply = await user.call('POST', '/api/webhooks', { body: { url, events } })
  if (reply.status !== 201) throw new Error(`register: ${reply.status} ${reply.text}`)
  return reply.body as { id: number; secret: string }
}

const deliveries = async (user: User, id: number) => (await user.call('GET', `/api/webhooks/${id}/deliveries`)).body
const webhookState = async (user: User, id: number) => (await user.call('GET', `/api/webhooks/${id}`)).body

const reminder = (user: User, data: unknown, at: Date) =>
  transaction(database.db, (tx) => enqueueWebhookEvent(tx, user.id, 'reminder', data, at))

const seconds = (from: Date, count: number) => new Date(from.getTime() + count * 1000)

describe('change deliveries', () => {
  test('a change of a task reaches a receiver on loopback, signed as Standard Webhooks says', async () => {
    const user = await signedInUser()
    await createTask(user, { title: 'before the webhook' })
    const { received, url } = receiver()
    const made = await register(user, url, ['change'])
    const task = await createTask(user, { title: 'after the webhook' })
    const result = await worker().tick()
    // The task, and its list (whose open count changed); on a database kept from an earlier run, others' too.
    expect(result.made).toBeGreaterThanOrEqual(2)
    expect(received).toHaveLength(2)
    const request = received.find((each) => JSON.parse(each.body).data.type === 'task')
    expect(request!.headers['content-type']).toBe('application/json')
    expect(request!.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/)
    // Verified by the library's own receiver side, with the secret the registration answered.
    const payload = new Webhook(made.secret).verify(request!.body, request!.headers) as Record<string, any>
    expect(payload).toEqual({
      type: 'change',
      timestamp: expect.stringMatching(/Z$/),
      data: { type: 'task', op: 'upsert', id: task.id, data: { ...task } },
    })
    // Another secret, or a body changed on the way, does not verify.
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(request!.body, request!.headers)).toThrow()
    expect(() => new Webhook(made.secret).verify(request!.body.replace('after', 'AFTER'), request!.headers)).toThrow()
    const delivery = (await deliveries(user, made.id)).find((each: any) => each.message_id === request!.headers['webhook-id'])
    expect(delivery).toEqual({
      id: expect.any(Number),
      message_id: request!.headers['webhook-id'],
      event: 'change',
      status: 'delivered',
      attempts: 1,
      response_status: 204,
      error: null,
      created_at: expect.any(String),
      attempted_at: expect.any(String),
      next_attempt_at: null,
    })
    // Nothing more to send.
    await worker().tick()
    expect(received).toHaveLength(2)
  })

  test('every change in feed order, deletions included; reminder-only webhooks get none', async () => {
    const user = await signedInUser()
    const changes = receiver()
    const reminders = receiver()
    await register(user, changes.url, ['change'])
    await register(user, reminders.url, ['reminder'])
    const hooks = worker()
    const task = await createTask(user)
    await hooks.tick()
    await user.call('PATCH', `/api/tasks/${task.id}`, { body: { title: 'renamed' } })
    await hooks.tick()
    await user.call('DELETE', `/api/tasks/${task.id}`)
    await hooks.tick()
    expect(reminders.received).toHaveLength(0)
    const sent = changes.received.map((request) => JSON.parse(request.body).data).filter((change) => change.type === 'task')
    expect(sent).toEqual([
      { type: 'task', op: 'upsert', id: task.id, data: expect.objectContaining({ title: 'A task' }) },
      { type: 'task', op: 'upsert', id: task.id, data: expect.objectContaining({ title: 'renamed' }) },
      { type: 'task', op: 'delete', id: task.id },
    ])
    expect(new Set(changes.received.map((request) => request.headers['webhook-id'])).size).toBe(changes.received.length)
  })

  test("a write wakes its instance's worker through the notifier, for users with change webhooks only: delivered at once, without waiting for a sweep", async () => {
    const user = await signedInUser()
    const other = await signedInUser()
    const { received, url } = receiver()
    const hooks = worker()
    const hub = createHub()
    const instance = await createApp({
      database,
      config: testConfig(),
      logger,
      live: { hub, notifier: wakingWebhooks(localNotifier(hub), hooks), webhookUsers: hooks },
    })
    // Registered on this instance: its worker knows at once.
    const made = await user.call('POST', '/api/webhooks', { body: { url, events: ['change'] }, on: instance })
    expect(made.status).toBe(201)
    expect((await user.call('POST', '/api/tasks', { body: { title: 'woken' }, on: instance })).status).toBe(201)
    await hooks.settled()
    expect(received.map((request) => JSON.parse(request.body).data.type).sort()).toEqual(['list', 'task'])
    // A user with no change webhook (a reminder one does not count): their writes wake nothing.
    await other.call('POST', '/api/webhooks', { body: { url, events: ['reminder'] }, on: instance })
    expect(hooks.changed(other.id)).toBe(false)
    // Deleted on this instance: the user's writes no longer wake it either.
    expect(hooks.changed(user.id)).toBe(true)
    await hooks.settled()
    expect((await user.call('DELETE', `/api/webhooks/${made.body.id}`, { on: instance })).status).toBe(204)
    expect(hooks.changed(user.id)).toBe(false)
    await hooks.stop()
  })

  test('a change wake that makes no change delivery takes nothing else: what is due waits for the poll', async () => {
    const user = await signedInUser()
    const other = await signedInUser()
    const changes = receiver()
    const reminders = receiver()
    const hooks = worker()
    hooks.registered(user.id, ['change'])
    await register(user, changes.url, ['change'])
    await register(other, reminders.url, ['reminder'])
    await reminder(other, {}, new Date())
    // Nothing new in the user's feed: no take, so the other user's reminder stays queued.
    expect(hooks.changed(user.id)).toBe(true)
    await hooks.settled()
    expect(reminders.received).toHaveLength(0)
    hooks.poll()
    await hooks.settled()
    expect(reminders.received).toHaveLength(1)
    await hooks.stop()
  })

  test('the sweep goes by the clock (every 5 s), not by runs: it finds webhooks registered on other instances and their changes', async () => {
    let clock = new Date()
    const hooks = createWebhookWorker({
      db: database.db,
      logger,
      policy: { allowLoopback: true, requireHttps: false },
      now: () => clock,
      random: () => 0.5,
    })
    hooks.poll()
    await hooks.settled()
    const user = await signedInUser()
    const { received, url } = receiver()
    // On another instance: this worker does not know of it yet.
    await register(user, url, ['change'])
    await createTask(user)
    expect(hooks.changed(user.id)).toBe(false)
    for (let run = 0; run < 7; run++) {
      hooks.poll()
      await hooks.settled()
    }
    expect(received).toHaveLength(0)
    clock = seconds(clock, 5)
    hooks.poll()
    await hooks.settled()
    expect(received.map((request) => JSON.parse(request.body).data.type).sort()).toEqual(['list', 'task'])
    expect(hooks.changed(user.id)).toBe(true)
    await hooks.stop()
  })

  test('one write of more changes than a page (a list deleted with its 120 tasks): every change once', async () => {
    const user = await signedInUser()
    const { received, url } = receiver()
    const made = await user.call('POST', '/api/lists', { body: { name: 'Big' } })
    for (let i = 0; i < 120; i++) await createTask(user, { list_id: made.body.id })
    await register(user, url, ['change'])
    expect((await user.call('DELETE', `/api/lists/${made.body.id}`)).status).toBe(204)
    await worker().tick()
    const sent = received.map((request) => JSON.parse(request.body).data)
    expect(sent.filter((change) => change.op === 'delete' && change.type === 'task')).toHaveLength(120)
    expect(sent).toContainEqual({ type: 'list', op: 'delete', id: made.body.id })
    expect(new Set(received.map((request) => request.headers['webhook-id'])).size).toBe(received.length)
  })

  test("a worker that died while making a webhook's change deliveries: another goes on from its cursor once the claim lapses", async () => {
    const user = await signedInUser()
    const { received, url } = receiver()
    const made = await register(user, url, ['change'])
    const start = new Date()
    await database.db
      .update(webhooks)
      .set({ feedClaim: 'a worker that died', feedClaimUntil: seconds(start, 60) })
      .where(and(eq(webhooks.userId, user.id), eq(webhooks.id, made.id)))
    await createTask(user)
    await worker().tick(seconds(start, 30))
    expect(received).toHaveLength(0)
    await worker().tick(seconds(start, 61))
    expect(received.map((request) => JSON.parse(request.body).data.type).sort()).toEqual(['list', 'task'])
  })
})

describe('reminder deliveries: enqueueWebhookEvent', () => {
  test("queues one delivery per enabled webhook of the user receiving the event, in the caller's transaction", async () => {
    const user = await signedInUser()
    const first = receiver()
    const second = receiver()
    const changesOnly = receiver()
    await register(user, first.url, ['reminder'])
    await register(user, second.url, ['reminder', 'change'])
    await register(user, changesOnly.url, ['change'])
    const now = new Date()
    expect(await reminder(user, { task_id: 1, title: 'Call back' }, now)).toBe(2)
    // A user without webhooks: nothing queued.
    expect(await reminder(await signedInUser(), { task_id: 1 }, now)).toBe(0)
    // A transaction rolled back queues nothing.
    await expect(
      transaction(database.db, async (tx) => {
        await enqueueWebhookEvent(tx, user.id, 'reminder', { task_id: 2 }, now)
        throw new Error('rolled back')
      }),
    ).rejects.toThrow('rolled back')
    await worker().tick(now)
    expect(changesOnly.received).toHaveLength(0)
    for (const { received } of [first, second]) {
      expect(received).toHaveLength(1)
      expect(JSON.parse(received[0]!.body)).toEqual({
        type: 'reminder',
        timestamp: now.toISOString(),
        data: { task_id: 1, title: 'Call back' },
      })
    }
  })
})

describe('reminder deliveries: enqueueWebhookEvents', () => {
  test("a batch of many users' events in one statement: each to its user's enabled webhooks that receive its type, in order", async () => {
    const [one, two, none] = await Promise.all([signedInUser(), signedInUser(), signedInUser()])
    const first = receiver()
    const second = receiver()
    const off = receiver()
    const a = await register(one, first.url, ['reminder'])
    const b = await register(two, second.url, ['reminder', 'change'])
    await register(two, receiver().url, ['change'])
    const disabled = await register(two, off.url, ['reminder'])
    const now = new Date()
    await database.db
      .update(webhooks)
      .set({ disabledAt: now })
      .where(and(eq(webhooks.userId, two.id), eq(webhooks.id, disabled.id)))
    const events = [one, two, none, one, two].map((user, n) => ({ userId: user.id, type: 'reminder' as const, data: { n } }))
    expect(await transaction(database.db, (tx) => enqueueWebhookEvents(tx, events, now))).toBe(4)
    expect(await transaction(database.db, (tx) => enqueueWebhookEvents(tx, [], now))).toBe(0)
    const sent = async (user: User, id: number) => (await deliveries(user, id)).map((delivery: any) => delivery.event).reverse() as string[]
    expect(await sent(one, a.id)).toEqual(['reminder', 'reminder'])
    await worker().tick(now)
    const bodies = (received: Received[]) => received.map((request) => JSON.parse(request.body)).sort((x, y) => x.data.n - y.data.n)
    expect(bodies(first.received)).toEqual([
      { type: 'reminder', timestamp: now.toISOString(), data: { n: 0 } },
      { type: 'reminder', timestamp: now.toISOString(), data: { n: 3 } },
    ])
    expect(bodies(second.received).map((body) => body.data.n)).toEqual([1, 4])
    expect(await sent(two, b.id)).toEqual(['reminder', 'reminder'])
    expect(off.received).toHaveLength(0)
  })
})

describe('retries', () => {
  test('a 500 is retried with backoff (about 5 s, then 5 min); the same webhook-id each time; failing_since until a success', async () => {
    const user = await signedInUser()
    const { received, url } = receiver([500, 503, 200])
    const made = await register(user, url, ['reminder'])
    const start = new Date()
    await reminder(user, { n: 1 }, start)
    await worker().tick(start)
    expect(received).toHaveLength(1)
    let [delivery] = await deliveries(user, made.id)
    expect(delivery).toMatchObject({ status: 'retrying', attempts: 1, response_status: 500, error: 'answered 500' })
    expect(Date.parse(delivery.next_attempt_at) - start.getTime()).toBe(5_000)
    expect((await webhookState(user, made.id)).failing_since).toBe(start.toISOString())
    // Not before it is due.
    await worker().tick(seconds(start, 4))
    expect(received).toHaveLength(1)
    await worker().tick(seconds(start, 5))
    expect(received).toHaveLength(2)
    ;[delivery] = await deliveries(user, made.id)
    expect(delivery).toMatchObject({ status: 'retrying', attempts: 2, response_status: 503 })
    expect(Date.parse(delivery.next_attempt_at) - seconds(start, 5).getTime()).toBe(300_000)
    await worker().tick(seconds(start, 305))
    expect(received).toHaveLength(3)
    expect(new Set(received.map((request) => request.headers['webhook-id'])).size).toBe(1)
    ;[delivery] = await deliveries(user, made.id)
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, response_status: 200, error: null, next_attempt_at: null })
    expect((await webhookState(user, made.id)).failing_since).toBeNull()
  })

  test('a redirect is a failure, never followed; an unreachable receiver too', async () => {
    const user = await signedInUser()
    const redirecting = receiver([302])
    const made = await register(user, redirecting.url, ['reminder'])
    const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
    const unreachable = await register(user, `http://127.0.0.1:${closed.port}/hook`, ['reminder'])
    closed.stop(true)
    const now = new Date()
    await reminder(user, {}, now)
    await worker().tick(now)
    expect(redirecting.received).toHaveLength(1)
    expect((await deliveries(user, made.id))[0]).toMatchObject({ status: 'retrying', response_status: 302 })
    expect((await deliveries(user, unreachable.id))[0]).toMatchObject({
      status: 'retrying',
      response_status: null,
      error: expect.any(String),
    })
  })

  test('failing for 24 hours disables the webhook: its waiting deliveries fail, nothing more is sent or queued', async () => {
    const user = await signedInUser()
    const { received, url } = receiver([500])
    const made = await register(user, url, ['reminder'])
    const start = new Date()
    await reminder(user, { n: 1 }, start)
    let at = start
    for (let attempt = 0; attempt < 30; attempt++) {
      await worker().tick(at)
      const state = await webhookState(user, made.id)
      if (state.disabled_at !== null) break
      expect(at.getTime() - start.getTime()).toBeLessThan(24 * 3_600_000)
      // Meanwhile a second event waits for its turn.
      if (attempt === 3) await reminder(user, { n: 2 }, at)
      const waiting = (await deliveries(user, made.id))
        .filter((delivery: any) => delivery.next_attempt_at !== null)
        .map((delivery: any) => Date.parse(delivery.next_attempt_at))
      at = new Date(Math.min(...waiting))
    }
    const state = await webhookState(user, made.id)
    expect(state.disabled_at).toBe(at.toISOString())
    expect(state.failing_since).toBe(start.toISOString())
    expect(at.getTime() - start.getTime()).toBeGreaterThanOrEqual(24 * 3_600_000)
    const listed = await deliveries(user, made.id)
    expect(listed.map((delivery: any) => delivery.status)).toEqual(['failed', 'failed'])
    expect(listed.every((delivery: any) => delivery.next_attempt_at === null)).toBe(true)
    const sent = received.length
    expect(await reminder(user, { n: 3 }, at)).toBe(0)
    await worker().tick(new Date(at.getTime() + 3_600_000))
    expect(received).toHaveLength(sent)
  })
})

describe('disabled webhooks', () => {
  test('a delivery in flight when its webhook is disabled stays failed: its attempt, recorded later, changes nothing', async () => {
    const user = await signedInUser()
    const { url } = receiver([500])
    const made = await register(user, url, ['reminder'])
    const start = new Date(Date.now() - 25 * 3_600_000)
    await database.db
      .update(webhooks)
      .set({ failingSince: start })
      .where(and(eq(webhooks.userId, user.id), eq(webhooks.id, made.id)))
    await reminder(user, { n: 1 }, seconds(start, 90_000))
    await reminder(user, { n: 2 }, seconds(start, 90_000))
    // Two attempts in flight at once; the first to fail disables the webhook.
    const taken = (await takeDue(database.db, seconds(start, 90_001), seconds(start, 90_061), 1000)).filter(
      (delivery) => delivery.webhookId === made.id,
    )
    expect(taken).toHaveLength(2)
    const failed = { delivered: false as const, status: 500, error: 'answered 500' }
    expect(await recordAttempt(database.db, taken[0]!, failed, seconds(start, 90_002), () => 0.5)).toBe(true)
    expect(await recordAttempt(database.db, taken[1]!, failed, seconds(start, 90_003), () => 0.5)).toBe(false)
    expect(await recordAttempt(database.db, taken[1]!, { delivered: true, status: 200 }, seconds(start, 90_003), () => 0.5)).toBe(false)
    const listed = await deliveries(user, made.id)
    expect(listed.map((delivery: any) => [delivery.status, delivery.next_attempt_at])).toEqual([
      ['failed', null],
      ['failed', null],
    ])
  })

  test('deliveries still waiting for a disabled webhook are not taken', async () => {
    const user = await signedInUser()
    const { received, url } = receiver()
    const made = await register(user, url, ['reminder'])
    const now = new Date()
    await reminder(user, {}, now)
    // Disabled by another path (an instance that had not failed the waiting deliveries yet).
    await database.db
      .update(webhooks)
      .set({ disabledAt: now })
      .where(and(eq(webhooks.userId, user.id), eq(webhooks.id, made.id)))
    expect((await takeDue(database.db, seconds(now, 1), seconds(now, 61), 1000)).some((each) => each.webhookId === made.id)).toBe(false)
    await worker().tick(seconds(now, 1))
    expect(received).toHaveLength(0)
  })
})

describe('clocks and slow receivers', () => {
  test('each attempt reads the clock when it goes: signed, leased and recorded then, not when the run began', async () => {
    const user = await signedInUser()
    const start = new Date(Date.now() - 2 * 3_600_000)
    let clock = start
    // Each answer takes ten minutes, as the worker's clock sees it.
    const { received, url } = receiver([204], () => {
      clock = seconds(clock, 600)
    })
    const made = await register(user, url, ['reminder'])
    await reminder(user, { n: 1 }, start)
    await reminder(user, { n: 2 }, start)
    const hooks = createWebhookWorker({
      db: database.db,
      logger,
      policy: { allowLoopback: true, requireHttps: false },
      now: () => clock,
      perWebhook: 1,
      random: () => 0.5,
    })
    await hooks.tick()
    const stamps = received.map((request) => Number(request.headers['webhook-timestamp']) * 1000)
    expect(stamps).toEqual([Math.floor(start.getTime() / 1000) * 1000, Math.floor(seconds(start, 600).getTime() / 1000) * 1000])
    const listed = await deliveries(user, made.id)
    expect(listed.map((delivery: any) => [delivery.status, delivery.attempted_at])).toEqual([
      ['delivered', seconds(start, 600).toISOString()],
      ['delivered', start.toISOString()],
    ])
  })

  test('a slow receiver holds only its own attempts: the other webhooks are sent meanwhile', async () => {
    const [slowUser, fastUser] = await Promise.all([signedInUser(), signedInUser()])
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const { received: fast, url: fastUrl } = receiver([204], (count) => {
      if (count === 6) release()
    })
    let fastBeforeSlowAnswered = -1
    const slowServer = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch() {
        await Promise.race([released, Bun.sleep(1500)])
        fastBeforeSlowAnswered = fast.length
        return new Response(null, { status: 204 })
      },
    })
    servers.push(slowServer)
    await register(slowUser, `http://127.0.0.1:${slowServer.port}/hook`, ['reminder'])
    await register(fastUser, fastUrl, ['reminder'])
    const at = new Date(Date.now() - 2 * 3_600_000)
    await reminder(slowUser, {}, at)
    for (let n = 0; n < 6; n++) await reminder(fastUser, { n }, at)
    const hooks = createWebhookWorker({
      db: database.db,
      logger,
      policy: { allowLoopback: true, requireHttps: false },
      batch: 2,
      random: () => 0.5,
    })
    await hooks.tick(at)
    expect(fastBeforeSlowAnswered).toBe(6)
  })
})

describe('many workers, crashes', () => {
  test('a delivery taken by a worker that died is sent again once its lease lapses', async () => {
    const user = await signedInUser()
    const { received, url } = receiver()
    const made = await register(user, url, ['reminder'])
    const start = new Date()
    await reminder(user, {}, start)
    // A worker takes it and dies before sending or recording anything.
    const taken = await takeDue(database.db, start, seconds(start, 60), 1000)
    expect(taken.some((delivery) => delivery.userId === user.id)).toBe(true)
    await worker().tick(seconds(start, 30))
    expect(received).toHaveLength(0)
    await worker().tick(seconds(start, 61))
    expect(received).toHaveLength(1)
    expect((await deliveries(user, made.id))[0]).toMatchObject({ status: 'delivered', attempts: 2 })
  })

  test('a worker stopped mid-delivery records nothing: the delivery is sent again once its lease lapses', async () => {
    const user = await signedInUser()
    let calls = 0
    let arrived!: () => void
    const first = new Promise<void>((resolve) => {
      arrived = resolve
    })
    const hanging = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch() {
        calls++
        if (calls > 1) return new Response(null, { status: 204 })
        arrived()
        // The first request is never answered.
        return new Promise<Response>(() => {})
      },
    })
    servers.push(hanging)
    const made = await register(user, `http://127.0.0.1:${hanging.port}/hook`, ['reminder'])
    const start = new Date()
    await reminder(user, {}, start)
    const stopping = worker()
    const running = stopping.tick(start)
    await first
    await stopping.stop()
    await running
    expect((await deliveries(user, made.id))[0]).toMatchObject({ status: 'pending', attempts: 1, error: null })
    await worker().tick(seconds(start, 61))
    expect(calls).toBe(2)
    expect((await deliveries(user, made.id))[0]).toMatchObject({ status: 'delivered', attempts: 2 })
  })

  test('a receiver slower than the deadline: a failed attempt, retried', async () => {
    const user = await signedInUser()
    const slow = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => Bun.sleep(2000).then(() => new Response()) })
    servers.push(slow)
    const made = await register(user, `http://127.0.0.1:${slow.port}/hook`, ['reminder'])
    const now = new Date()
    await reminder(user, {}, now)
    await createWebhookWorker({ db: database.db, logger, policy: { allowLoopback: true, requireHttps: false }, timeoutMs: 200 }).tick(now)
    expect((await deliveries(user, made.id))[0]).toMatchObject({
      status: 'retrying',
      response_status: null,
      error: 'no answer within 0.2 s',
    })
  })

  test('two workers on one database never send one delivery twice', async () => {
    const users = await Promise.all([signedInUser(), signedInUser()])
    const { received, url } = receiver()
    for (const user of users) for (let i = 0; i < 3; i++) await register(user, url, ['reminder', 'change'])
    const now = new Date()
    for (const user of users) for (let i = 0; i < 5; i++) await reminder(user, { i }, now)
    for (const user of users) for (let i = 0; i < 3; i++) await createTask(user)
    const [one, two] = [worker(), worker()]
    await Promise.all([one.tick(now), two.tick(now), one.tick(now), two.tick(now)])
    const ids = received.map((request) => request.headers['webhook-id'])
    expect(new Set(ids).size).toBe(ids.length)
    // Every delivery made was sent, once: five reminders and the changes (three tasks, their list) per webhook.
    const made = await database.db
      .select({ messageId: webhookDeliveries.messageId, status: webhookDeliveries.status })
      .from(webhookDeliveries)
      .where(
        inArray(
          webhookDeliveries.userId,
          users.map((user) => user.id),
        ),
      )
    expect(made).toHaveLength(2 * 3 * (5 + 4))
    expect(made.every((delivery) => delivery.status === 'delivered')).toBe(true)
    expect(ids.sort()).toEqual(made.map((delivery) => delivery.messageId).sort())
  })
})

describe('addresses checked again at delivery', () => {
  test('registered while loopback was allowed, sent by a worker that refuses it: recorded as refused, never sent', async () => {
    const user = await signedInUser()
    const { received, url } = receiver()
    const made = await register(user, url, ['reminder'])
    const now = new Date()
    await reminder(user, {}, now)
    await worker(false).tick(now)
    expect(received).toHaveLength(0)
    expect((await deliveries(user, made.id))[0]).toMatchObject({
      status: 'retrying',
      response_status: null,
      error: expect.stringMatching(/^refused: .*loopback/),
    })
  })

  test('a name is resolved at each delivery and every address it has is checked', async () => {
    const user = await signedInUser()
    const { received } = receiver()
    const port = new URL(servers.at(-1)!.url).port
    const made = await register(user, `http://localhost:${port}/hook`, ['reminder'])
    const now = new Date()
    await reminder(user, {}, now)
    const rebinding = createWebhookWorker({
      db: database.db,
      logger,
      policy: { allowLoopback: true, requireHttps: false },
      resolve: async () => ['127.0.0.1', '10.0.0.7'],
      random: () => 0.5,
    })
    await rebinding.tick(now)
    expect(received).toHaveLength(0)
    expect((await deliveries(user, made.id))[0].error).toMatch(/^refused: .*10\.0\.0\.7.*private/)
    // Resolved to loopback only: sent to the address checked, with the URL's Host.
    await worker().tick(seconds(now, 5))
    expect(received).toHaveLength(1)
    expect(received[0]!.headers.host).toBe(`localhost:${port}`)
  })
})

describe('what is kept', () => {
  test('deleting a webhook deletes its deliveries; deleting the account deletes its webhooks', async () => {
    const user = await signedUpUser()
    const { url } = receiver()
    const kept = await register(user, url, ['reminder'])
    const dropped = await register(user, url, ['reminder'])
    await reminder(user, {}, new Date())
    expect((await user.call('DELETE', `/api/webhooks/${dropped.id}`)).status).toBe(204)
    const rows = (webhookId: number) =>
      database.db
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.userId, user.id), eq(webhookDeliveries.webhookId, webhookId)))
    expect(await rows(dropped.id)).toHaveLength(0)
    expect(await rows(kept.id)).toHaveLength(1)
    expect((await user.call('DELETE', '/api/auth/me')).status).toBe(204)
    expect(await database.db.select().from(webhooks).where(eq(webhooks.userId, user.id))).toHaveLength(0)
    expect(await rows(kept.id)).toHaveLength(0)
  })

  test('housekeeping forgets deliveries after 7 days', async () => {
    const user = await signedInUser()
    const { url } = receiver()
    const made = await register(user, url, ['reminder'])
    const now = new Date()
    await reminder(user, {}, now)
    await worker().tick(now)
    expect((await sweep(database.db, new Date(now.getTime() + 6 * 86_400_000))).webhookDeliveries).toBe(0)
    expect(await deliveries(user, made.id)).toHaveLength(1)
    expect((await sweep(database.db, new Date(now.getTime() + 8 * 86_400_000))).webhookDeliveries).toBeGreaterThanOrEqual(1)
    expect(await deliveries(user, made.id)).toEqual([])
  })
})

test("one webhook's backlog over the scanned window does not hold up another webhook's deliveries", async () => {
  const [slow, fast] = [await signedInUser(), await signedInUser()]
  const register = async (user: User) =>
    (await user.call('POST', '/api/webhooks', { body: { url: 'http://127.0.0.1:9/hook', events: ['reminder'] } })).body.id as number
  const [slowHook, fastHook] = [await register(slow), await register(fast)]
  try {
    const now = new Date()
    const backlog = Array.from({ length: 1005 }, (_, n) => ({ userId: slow.id, type: 'reminder' as const, data: { n } }))
    await transaction(database.db, (tx) => enqueueWebhookEvents(tx, backlog, new Date(now.getTime() - 3_600_000)))
    await transaction(database.db, (tx) =>
      enqueueWebhookEvents(tx, [{ userId: fast.id, type: 'reminder', data: {} }], new Date(now.getTime() - 60_000)),
    )
    const lease = new Date(now.getTime() + 60_000)
    const first = await takeDue(database.db, now, lease, 20, { perWebhook: 4, sending: new Map() })
    expect(first.filter((taken) => taken.webhookId === slowHook)).toHaveLength(4)
    // The slow webhook is at its cap: the next take reaches past its backlog.
    const next = await takeDue(database.db, now, lease, 20, { perWebhook: 4, sending: new Map([[slowHook, 4]]) })
    expect([...first, ...next].filter((taken) => taken.webhookId === fastHook)).toHaveLength(1)
    expect(next.filter((taken) => taken.webhookId === slowHook)).toEqual([])
  } finally {
    // Their deliveries go with them: no other test meets this backlog.
    await slow.call('DELETE', `/api/webhooks/${slowHook}`)
    await fast.call('DELETE', `/api/webhooks/${fastHook}`)
  }
})
