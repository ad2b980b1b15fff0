// The delivery worker. Every instance runs one; they share the work through
// the database alone (claims with FOR UPDATE SKIP LOCKED, leases that lapse),
// with no session state and no LISTEN, so it works behind a transaction
// pooler and each delivery goes out once (again only after an instance died
// mid-delivery: receivers drop the repeat by its webhook-id).
import type { Database } from '../db/client'
import type { Notifier } from '../events/notifier'
import type { Logger } from '../http/logger'
import { deliverChanges, hasChangeWebhooks, usersWithChangeWebhooks } from './changes'
import type { DestinationPolicy, Resolve } from './destinations'
import type { WebhookEvent } from './model'
import { recordAttempt, type Taken, takeDue } from './outbox'
import { sendDelivery } from './send'

export interface WebhookWorkerOptions {
  db: Database
  logger: Logger
  policy: DestinationPolicy
  /** The clock every decision reads (due, leases, signatures, backoff, 24 hours of failures); tests inject one. */
  now?: () => Date
  resolve?: Resolve
  /** The most one attempt may take. */
  timeoutMs?: number
  /** How long a delivery (or a webhook's feed) stays with the worker that took it, if it never says how it went. */
  leaseMs?: number
  /** Attempts under way at once, across webhooks. */
  batch?: number
  /** Attempts under way at once for one webhook: a slow receiver holds these, never the others'. */
  perWebhook?: number
  random?: () => number
}

const DEFAULTS = { timeoutMs: 10_000, leaseMs: 60_000, batch: 20, perWebhook: 4 }
// The loop's period: what is due is taken at least this often.
const POLL_MS = 1_000
// Every webhook behind its feed is looked for this often (by the clock), and the users
// with change webhooks read again: the feed of a user may have moved through another
// instance that could not make their deliveries (it died right after the write), and
// webhooks registered or disabled on other instances are learned of.
const SWEEP_MS = 5_000

/** What this instance's routes tell its worker: which users have change webhooks, so that their writes wake it. */
export interface ChangeWebhookUsers {
  registered(userId: string, events: readonly WebhookEvent[]): void
  /** Resolves once the worker knows whether the user still has change webhooks. */
  removed(userId: string): Promise<void>
}

export type WebhookWorker = ReturnType<typeof createWebhookWorker>

export function createWebhookWorker(options: WebhookWorkerOptions) {
  const { db, logger, policy, now = () => new Date(), resolve, random = Math.random } = options
  const { timeoutMs, leaseMs, batch, perWebhook } = { ...DEFAULTS, ...options }
  const stopping = new AbortController()
  const leaseFrom = (at: Date) => new Date(at.getTime() + leaseMs)

  // The attempts under way (a pool, not rounds: each one that ends leaves room for
  // the next), and how many of each webhook.
  const sending = new Set<Promise<void>>()
  const sendingTo = new Map<number, number>()
  // The last take left deliveries due (no room, or a webhook full): an attempt that ends takes more.
  let moreDue = false
  let looping = false

  /** One attempt, on the clock of its own moment: signed, recorded and rescheduled then. */
  function attempt(delivery: Taken, clock: () => Date): void {
    const { webhookId } = delivery
    sendingTo.set(webhookId, (sendingTo.get(webhookId) ?? 0) + 1)
    const sent = (async () => {
      const outcome = await sendDelivery(delivery, clock(), { policy, resolve, timeoutMs, signal: stopping.signal })
      // Stopping: the lease lapses and another instance sends it again.
      if (stopping.signal.aborted) return
      if (await recordAttempt(db, delivery, outcome, clock(), random))
        logger.warn('webhook disabled after 24 hours of failed deliveries', { webhook_id: webhookId })
    })()
      .catch((error: unknown) =>
        logger.warn('webhook attempt not recorded; sent again when its lease lapses', { webhook_id: webhookId, cause: String(error) }),
      )
      .finally(() => {
        sending.delete(sent)
        const left = sendingTo.get(webhookId)! - 1
        if (left) sendingTo.set(webhookId, left)
        else sendingTo.delete(webhookId)
        if (looping && moreDue) {
          moreDue = false
          dueAsked = true
          runNow()
        }
      })
    sending.add(sent)
  }

  /** Takes what is due, as much as there is room for, and starts the attempts (not waiting for them). Answers how many. */
  async function fill(clock: () => Date): Promise<number> {
    const room = batch - sending.size
    if (room <= 0 || stopping.signal.aborted) {
      moreDue = room <= 0
      return 0
    }
    const at = clock()
    const taken = await takeDue(db, at, leaseFrom(at), room, { perWebhook, sending: sendingTo })
    for (const delivery of taken) attempt(delivery, clock)
    moreDue = taken.length === room || [...sendingTo.values()].some((count) => count >= perWebhook)
    return taken.length
  }

  /**
   * Makes the change deliveries of every webhook behind its feed, then sends
   * what is due until nothing is left under way. At `at` when given (every
   * step on that one clock reading), else on the worker's clock, read afresh
   * at each take and each attempt. Tests call it directly.
   */
  async function tick(at?: Date): Promise<{ made: number; attempted: number }> {
    const clock = at ? () => at : now
    const made = await deliverChanges(db, clock, leaseMs)
    let attempted = 0
    while (!stopping.signal.aborted) {
      attempted += await fill(clock)
      if (!sending.size) break
      await Promise.race(sending)
    }
    await Promise.all(sending)
    return { made, attempted }
  }

  // The users with change webhooks, as this instance knows them: only their writes wake the worker.
  let watched = new Set<string>()
  // Registered while the set was being read again: kept.
  let registeredMeanwhile: Set<string> | undefined

  async function readWatched(): Promise<void> {
    registeredMeanwhile = new Set()
    try {
      const found = new Set(await usersWithChangeWebhooks(db))
      for (const userId of registeredMeanwhile) found.add(userId)
      watched = found
    } finally {
      registeredMeanwhile = undefined
    }
  }

  // The loop: one run at a time; a wake during a run asks for another.
  const woken = new Set<string>()
  let dueAsked = false
  let sweepAt = 0
  let running: Promise<void> | undefined
  let again = false
  let timer: Timer | undefined
  let soon: { timer: Timer; ran: Promise<void> } | undefined

  async function run(): Promise<void> {
    const at = now()
    const users = [...woken]
    woken.clear()
    const takeDueToo = dueAsked
    dueAsked = false
    let made = 0
    if (at.getTime() >= sweepAt) {
      sweepAt = at.getTime() + SWEEP_MS
      await readWatched()
      made = await deliverChanges(db, now, leaseMs)
    } else if (users.length) made = await deliverChanges(db, now, leaseMs, users)
    // A write of a user whose webhooks had nothing new to make costs no take.
    if (takeDueToo || made > 0) await fill(now)
  }

  function runNow(): void {
    if (stopping.signal.aborted) return
    if (running) {
      again = true
      return
    }
    running = run()
      .catch((error: unknown) => logger.warn('webhook worker run failed; retried at the next', { cause: String(error) }))
      .finally(() => {
        running = undefined
        if (again) {
          again = false
          runNow()
        }
      })
  }

  /** The periodic run: what is due, and the sweep when its time has come (by the clock). Tests call it by hand. */
  function poll(): void {
    dueAsked = true
    runNow()
  }

  /** Runs soon (once for every wake until then), after the commit of the write that woke it. */
  function runSoon(): void {
    if (soon) return
    let ran!: () => void
    const timer = setTimeout(() => {
      soon = undefined
      runNow()
      ran()
    }, 0)
    timer.unref?.()
    soon = { timer, ran: new Promise((resolve) => (ran = resolve)) }
  }

  return {
    tick,
    /**
     * This instance wrote to the user's lists or tasks (after commit): their change
     * webhooks' deliveries are made soon. Nothing at all for a user without change
     * webhooks (as far as this instance knows: the sweep covers the others).
     * Answers whether a run was asked for.
     */
    changed(userId: string): boolean {
      if (!watched.has(userId)) return false
      woken.add(userId)
      runSoon()
      return true
    },
    /** Deliveries were queued (reminders fired here, after commit): they are sent soon. */
    queued(): void {
      dueAsked = true
      runSoon()
    },
    poll,
    registered(userId: string, events: readonly WebhookEvent[]): void {
      if (!events.includes('change')) return
      watched.add(userId)
      registeredMeanwhile?.add(userId)
    },
    async removed(userId: string): Promise<void> {
      try {
        if (!(await hasChangeWebhooks(db, userId))) watched.delete(userId)
      } catch (error) {
        logger.warn('webhook users not read again; the next sweep does', { cause: String(error) })
      }
    },
    /** Resolves once no run is asked for or under way, and no attempt either. */
    async settled(): Promise<void> {
      while (soon || running || sending.size) await Promise.race([soon?.ran, running, ...sending].filter(Boolean))
    },
    /** Runs every second until stopped (the timers never keep the process alive); attempts that end take more at once. */
    start(): void {
      looping = true
      timer = setInterval(poll, POLL_MS)
      timer.unref()
    },
    /** Stops the loop and abandons the attempts under way (their leases lapse: sent again elsewhere). */
    async stop(): Promise<void> {
      clearInterval(timer)
      if (soon) clearTimeout(soon.timer)
      soon = undefined
      stopping.abort()
      await running
      await Promise.all(sending)
    },
  }
}

/**
 * The notifier, also waking the worker after each write of this instance, and
 * after reminders fired here: its change and reminder deliveries go out at once.
 */
export function wakingWebhooks(notifier: Notifier, worker: Pick<WebhookWorker, 'changed' | 'queued'>): Notifier {
  return {
    ...notifier,
    changed(userId) {
      notifier.changed(userId)
      worker.changed(userId)
    },
    reminded(userId) {
      notifier.reminded(userId)
      worker.queued()
    },
  }
}
