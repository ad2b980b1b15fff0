// Webhooks in the isolation property: users register webhooks pointing at one
// receiver on loopback (each at a path of its own, so the receiver knows which
// registration a request was for), list and delete them; a step drives the
// delivery worker by hand, at an injected time, and checks every request the
// receiver got: it verifies with the secret of the webhook it was sent for
// and with no other user's, it names only what that user holds or held, an
// upsert carries the resource as the model holds it, and every task the user
// changed since the webhook's last round arrived. The attacker's webhook
// commands: another user's webhook is 403 on every route, a deleted one 404.
import { expect } from 'bun:test'
import fc from 'fast-check'
import { Webhook as Verifier } from 'standardwebhooks'
import type { Delivery, Webhook } from '../../src/webhooks/model'
import { createWebhookWorker } from '../../src/webhooks/worker'
import { database, logger } from '../support'
import { currentList, type Model, pickId, USERS, type UserModel } from './model'
import { base, expectError, holder, ISO, label, type Real, Step, show, type Via } from './steps'

type Received = { path: string; headers: Record<string, string>; body: string }

// One receiver for the whole test: every request it gets, in order of arrival.
const received: Received[] = []
let receiver: ReturnType<typeof Bun.serve> | undefined

function receiverOrigin(): string {
  receiver ??= Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      received.push({ path: new URL(request.url).pathname, headers: Object.fromEntries(request.headers), body: await request.text() })
      return new Response(null, { status: 204 })
    },
  })
  return `http://127.0.0.1:${receiver.port}`
}

// The worker, as every instance runs one, ticked by hand at the time a step gives it.
const worker = createWebhookWorker({ db: database.db, logger, policy: { allowLoopback: true, requireHttps: false } })

/**
 * After the last run: one more round, so that no webhook of the property is
 * left behind its feed (later files count what a round makes), then the receiver stops.
 */
export async function finishWebhooks() {
  await worker.tick()
  receiver?.stop(true)
}

/** What the test keeps of the webhooks of one run: never in the model, which knows only what the API answers. */
export interface WebhookRun {
  /** Paths under the receiver that are this run's. */
  prefix: string
  made: number
  /** Every webhook registered in the run (deleted ones too), by the path of its URL. */
  byPath: Map<string, { user: number; id: number; secret: string }>
  /** The webhook-ids each path received. */
  messages: Map<string, string[]>
  /** Where in `received` the next round starts reading. */
  readFrom: number
  /** Per change webhook: each task of its user as it stood at the webhook's last round (JSON by 'task:id'). */
  baselines: Map<number, Map<string, string>>
}

export const newWebhookRun = (): WebhookRun => ({
  prefix: `/${crypto.randomUUID()}`,
  made: 0,
  byPath: new Map(),
  messages: new Map(),
  readFrom: received.length,
  baselines: new Map(),
})

/** JSON with keys in one order, whatever order the model's objects were built in. */
const canonical = (value: unknown) =>
  JSON.stringify(value, (_, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v))
const taskSnapshot = (mine: UserModel) => new Map([...mine.tasks.values()].map((task) => [`task:${task.id}`, canonical(task)]))

const verifies = (secret: string, request: Received) => {
  try {
    new Verifier(secret).verify(request.body, request.headers)
    return true
  } catch {
    return false
  }
}

type WebhookEvent = Webhook['events'][number]
export const eventsArb = fc.constantFrom<WebhookEvent[]>(
  ['change'],
  ['change'],
  ['reminder'],
  ['change', 'reminder'],
  ['reminder', 'change'],
)

/** POST /api/webhooks: a URL of the receiver's, the events asked for; the eleventh is 409. */
export class RegisterWebhook extends Step {
  constructor(
    readonly actor: number,
    readonly events: WebhookEvent[],
    readonly via: Via,
  ) {
    super()
  }
  check = () => true
  toString = () => `${label(this.actor)} POST webhook ${show(this.events)} via ${this.via}`
  async step(model: Model, real: Real) {
    const mine = model.users[this.actor]!
    const run = real.webhooks
    const hookPath = `${run.prefix}/${label(this.actor)}/${run.made++}`
    const url = `${receiverOrigin()}${hookPath}`
    const path = base(real, this.actor, this.via, 'webhooks')
    const reply = await real.users[this.actor]!.call<Webhook & { secret: string }>('POST', path, { body: { url, events: this.events } })
    if (mine.webhooks.size >= 10) {
      expectError(reply, 409, 'webhook_limit')
      return `${this} → 409`
    }
    expect({ status: reply.status, body: reply.body }).toEqual({
      status: 201,
      body: {
        id: expect.any(Number),
        url,
        events: this.events,
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
        created_at: expect.stringMatching(ISO),
        failing_since: null,
        disabled_at: null,
      },
    })
    const { secret, ...webhook } = reply.body
    const id = webhook.id
    const reused = model.users.some((user) => user.webhooks.has(id)) || model.goneWebhooks.includes(id)
    expect({ id, reused }).toEqual({ id, reused: false })
    expect(reply.headers.get('location')).toBe(`${path}/${id}`)
    mine.webhooks.set(id, webhook)
    model.webhooksUsed = true
    run.byPath.set(hookPath, { user: this.actor, id, secret })
    run.messages.set(hookPath, [])
    // It receives what changes from now on.
    if (this.events.includes('change')) run.baselines.set(id, taskSnapshot(mine))
    return `${label(this.actor)} POST webhook ${show(this.events)} via ${this.via} → 201 id ${id}`
  }
}

/** DELETE /api/webhooks/{id} of one's own: 204, and nothing is sent to it any more. */
export class DeleteWebhook extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number,
    readonly via: Via,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'webhooks') !== undefined
  toString = () => `holder(${label(this.actor)}) DELETE own webhook[${this.pick} mod n] via ${this.via}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'webhooks')!
    const mine = model.users[actor]!
    const id = pickId(mine.webhooks.keys(), this.pick)
    const reply = await real.users[actor]!.call('DELETE', `${base(real, actor, this.via, 'webhooks')}/${id}`)
    expect({ status: reply.status, text: reply.text }).toEqual({ status: 204, text: '' })
    mine.webhooks.delete(id)
    model.goneWebhooks.push(id)
    real.webhooks.baselines.delete(id)
    return `${label(actor)} DELETE own webhook ${id} → 204`
  }
}

/** What a change delivery carries (src/sync): a task or list, upserted with its state or deleted. */
type Change = { type: 'task' | 'list'; op: 'upsert' | 'delete'; id: number; data?: unknown }

/**
 * The worker runs one round (makes the change deliveries behind each feed,
 * sends what is due) at `now`; every request the receiver got checks out.
 */
export class DeliverWebhooks extends Step {
  check = () => true
  toString = () => 'the webhook worker runs a round'
  async step(model: Model, real: Real) {
    const run = real.webhooks
    const at = new Date()
    await worker.tick(at)
    // Earlier runs' webhooks may still be sent to (a run that failed before its last round): their paths are not this run's.
    const fresh = received.slice(run.readFrom).filter((request) => request.path.startsWith(run.prefix))
    run.readFrom = received.length
    const changed = new Map<number, Change[]>()
    for (const request of fresh) {
      const hook = run.byPath.get(request.path)
      const mine = hook && model.users[hook.user]!
      // Sent only to a webhook registered, and not deleted, in this run, which receives changes (no task has reminders).
      expect({ path: request.path, live: mine?.webhooks.get(hook!.id)?.events.includes('change') }).toEqual({
        path: request.path,
        live: true,
      })
      const { user, id, secret } = hook!
      const strangers = [...run.byPath.values()].filter((other) => other.user !== user && verifies(other.secret, request))
      expect({ webhook: id, verifies: verifies(secret, request), alsoWith: strangers.map((other) => other.id) }).toEqual({
        webhook: id,
        verifies: true,
        alsoWith: [],
      })
      run.messages.get(request.path)!.push(request.headers['webhook-id']!)
      const payload = JSON.parse(request.body) as { type: string; timestamp: string; data: Change }
      expect({ type: payload.type, timestamp: payload.timestamp }).toEqual({ type: 'change', timestamp: at.toISOString() })
      expectOwnChange(mine!, label(user), payload.data)
      changed.set(id, [...(changed.get(id) ?? []), payload.data])
    }
    // Every task its user created, changed or deleted since the webhook's last round arrived.
    for (const [index, mine] of model.users.entries())
      for (const id of mine.webhooks.keys()) {
        const baseline = run.baselines.get(id)
        if (!baseline) continue
        const now = taskSnapshot(mine)
        const sent = new Set((changed.get(id) ?? []).map((change) => `${change.type}:${change.id}:${change.op}`))
        const missing = [
          ...[...now].filter(([key, json]) => baseline.get(key) !== json).map(([key]) => `${key}:upsert`),
          ...[...baseline.keys()].filter((key) => !now.has(key)).map((key) => `${key}:delete`),
        ].filter((change) => !sent.has(change))
        expect({ user: label(index), webhook: id, missing }).toEqual({ user: label(index), webhook: id, missing: [] })
        run.baselines.set(id, now)
      }
    return `the webhook worker runs a round at ${at.toISOString()} → ${fresh.length} deliveries`
  }
}

/** A change sent to `mine`'s webhook: of a task or list they hold or held; an upsert carries it as they hold it now. */
function expectOwnChange(mine: UserModel, who: string, change: Change) {
  const key = `${change.type}:${change.id}`
  const holds = change.type === 'task' ? mine.tasks.has(change.id) : mine.lists.has(change.id)
  expect({ user: who, change: key, op: change.op, theirs: mine.held.has(key), holdsNow: holds }).toEqual({
    user: who,
    change: key,
    op: change.op,
    theirs: true,
    holdsNow: change.op === 'upsert',
  })
  if (change.op === 'upsert')
    expect({ change: key, data: change.data }).toEqual({
      change: key,
      data: change.type === 'task' ? mine.tasks.get(change.id) : currentList(mine, change.id),
    })
}

/** The owner reads one webhook and its deliveries: exactly what the receiver got for it, each delivered at the first attempt. */
export class OwnDeliveries extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number,
    readonly via: Via,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'webhooks') !== undefined
  toString = () => `holder(${label(this.actor)}) GET own webhook[${this.pick} mod n] and its deliveries via ${this.via}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'webhooks')!
    const mine = model.users[actor]!
    const user = real.users[actor]!
    const id = pickId(mine.webhooks.keys(), this.pick)
    const path = `${base(real, actor, this.via, 'webhooks')}/${id}`
    const one = await user.call<Webhook>('GET', path)
    expect({ status: one.status, body: one.body }).toEqual({ status: 200, body: mine.webhooks.get(id)! })
    const reply = await user.call<Delivery[]>('GET', `${path}/deliveries?limit=100`)
    expect(reply.status).toBe(200)
    const hookPath = new URL(mine.webhooks.get(id)!.url).pathname
    const messages = real.webhooks.messages.get(hookPath)!
    for (const delivery of reply.body)
      expect(delivery).toEqual({
        id: expect.any(Number),
        message_id: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
        event: 'change',
        status: 'delivered',
        attempts: 1,
        response_status: 204,
        error: null,
        created_at: expect.stringMatching(ISO),
        attempted_at: expect.stringMatching(ISO),
        next_attempt_at: null,
      })
    if (messages.length < 100) expect(reply.body.map((delivery) => delivery.message_id).sort()).toEqual(messages.toSorted())
    return `${label(actor)} GET own webhook ${id} → ${reply.body.length} deliveries`
  }
}

export type WebhookVerb = 'GET' | 'DELETE' | 'DELIVERIES'
type Route = 'plain' | 'alias-own' | 'alias-victim'

/**
 * The attacker aims at another user's webhook (403, by the plain route or
 * either alias) or at one deleted earlier in the run (404, for anyone).
 * Nothing of the victim's shows, and the check after the step proves their
 * webhooks are as they were.
 */
export class WebhookAttack extends Step {
  constructor(
    readonly attacker: number,
    readonly victimOffset: number,
    readonly pick: number,
    readonly verb: WebhookVerb,
    readonly route: Route,
    readonly source: 'victim' | 'deleted',
  ) {
    super()
  }
  preferred = () => (this.attacker + 1 + this.victimOffset) % USERS
  victim = (model: Readonly<Model>) => holder(model, this.preferred(), 'webhooks', this.attacker)
  /** The victim's webhooks to aim at: for /deliveries, those that have some if any do (an empty page proves less). */
  targets(victim: UserModel, real: Real): number[] {
    const ids = [...victim.webhooks.keys()]
    if (this.verb !== 'DELIVERIES') return ids
    const delivered = ids.filter((id) => real.webhooks.messages.get(new URL(victim.webhooks.get(id)!.url).pathname)!.length > 0)
    return delivered.length ? delivered : ids
  }
  check = (model: Readonly<Model>) => (this.source === 'victim' ? this.victim(model) !== undefined : model.goneWebhooks.length > 0)
  toString = () =>
    `${label(this.attacker)} ${this.verb} ${this.source === 'victim' ? `holder(${label(this.preferred())})'s` : 'a deleted'} webhook[${this.pick} mod n] via ${this.route}`
  async step(model: Model, real: Real) {
    const victimIndex = this.source === 'victim' ? this.victim(model)! : undefined
    const id = pickId(victimIndex === undefined ? model.goneWebhooks : this.targets(model.users[victimIndex]!, real), this.pick)
    // A deleted webhook has no owner to name: the alias names the attacker then.
    const owner =
      this.route === 'plain' ? undefined : this.route === 'alias-victim' && victimIndex !== undefined ? victimIndex : this.attacker
    const prefix = owner === undefined ? '/api/webhooks' : `/api/${real.users[owner]!.id}/webhooks`
    const path = `${prefix}/${id}${this.verb === 'DELIVERIES' ? '/deliveries' : ''}`
    const reply = await real.users[this.attacker]!.call(this.verb === 'DELETE' ? 'DELETE' : 'GET', path)
    if (victimIndex === undefined) expectError(reply, 404, 'webhook_not_found')
    else {
      expectError(reply, 403, 'forbidden')
      const secret = [...real.webhooks.byPath.values()].find((hook) => hook.id === id)!.secret
      expect({ leaks: [model.users[victimIndex]!.webhooks.get(id)!.url, secret].filter((text) => reply.text.includes(text)) }).toEqual({
        leaks: [],
      })
    }
    return `${label(this.attacker)} ${this.verb} ${victimIndex === undefined ? 'deleted' : `${label(victimIndex)}'s`} webhook ${id} via ${this.route} → ${reply.status}`
  }
}

export const webhookAttackArb = (actorArb: fc.Arbitrary<number>, victimOffsetArb: fc.Arbitrary<number>, pickArb: fc.Arbitrary<number>) =>
  fc
    .tuple(
      actorArb,
      victimOffsetArb,
      pickArb,
      fc.constantFrom<WebhookVerb>('GET', 'DELETE', 'DELIVERIES'),
      fc.constantFrom<Route>('plain', 'plain', 'alias-own', 'alias-victim'),
      fc.constantFrom('victim' as const, 'victim' as const, 'deleted' as const),
    )
    .map(([a, v, p, verb, route, source]) => new WebhookAttack(a, v, p, verb, route, source))
