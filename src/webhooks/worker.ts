// The delivery worker. Every instance runs one; they share the work through
// the database alone (claims with FOR UPDATE SKIP LOCKED, leases that lapse),
// with no session state and no LISTEN, so it works behind a transaction
// pooler and each delivery goes out once (again only after an instance died
// mid-delivery: receivers drop the repeat by its webhook-id).
import type { Database } from '../db/client'
import type { Notifier } from '../events/notifier'
import type { Logger } from '../http/logger'
import { deliverChanges } from './changes'
import type { DestinationPolicy, Resolve } from './destinations'
import { recordAttempt, takeDue } from './outbox'
import { sendDelivery } from './send'

export interface WebhookWorkerOptions {
  db: Database
  logger: Logger
  policy: DestinationPolicy
  /** The clock every decision reads (due, backoff, 24 hours of failures); tests inject one. */
  now?: () => Date
  resolve?: Resolve
  /** The most one attempt may take. */
  timeoutMs?: number
  /** How long a delivery (or a webhook's feed) stays with the worker that took it, if it never says how it went. */
  leaseMs?: number
  /** Deliveries sent at once. */
  batch?: number
  random?: () => number
}

const DEFAULTS = { timeoutMs: 10_000, leaseMs: 60_000, batch: 20 }
// The loop's period; an enqueue or a write on this instance wakes it at once.
const POLL_MS = 1_000
// Webhooks whose feed moved through another instance that could not make their deliveries
// (it died right after the write) are found by a sweep this often.
const SWEEP_EVERY = 5
// Rounds of sending per run at most, so that one run ends and the loop stays responsive.
const MAX_ROUNDS = 50

export type WebhookWorker = ReturnType<typeof createWebhookWorker>

export function createWebhookWorker(options: WebhookWorkerOptions) {
  const { db, logger, policy, now = () => new Date(), resolve, random = Math.random } = options
  const { timeoutMs, leaseMs, batch } = { ...DEFAULTS, ...options }
  const stopping = new AbortController()

  /** Sends the deliveries due at `at`; answers how many were attempted. */
  async function deliverDue(at: Date): Promise<number> {
    let attempted = 0
    for (let round = 0; round < MAX_ROUNDS && !stopping.signal.aborted; round++) {
      const taken = await takeDue(db, at, new Date(at.getTime() + leaseMs), batch)
      await Promise.all(
        taken.map(async (delivery) => {
          const outcome = await sendDelivery(delivery, at, { policy, resolve, timeoutMs, signal: stopping.signal })
          // Stopping: the lease lapses and another instance sends it again.
          if (stopping.signal.aborted) return
          if (await recordAttempt(db, delivery, outcome, at, random))
            logger.warn('webhook disabled after 24 hours of failed deliveries', { webhook_id: delivery.webhookId })
        }),
      )
      attempted += taken.length
      if (taken.length < batch) break
    }
    return attempted
  }

  /**
   * One round at `at` (the injected clock's now by default): makes the change
   * deliveries of every webhook behind its feed, then sends what is due.
   * Tests call it directly; the loop calls it every second.
   */
  async function tick(at: Date = now()): Promise<{ made: number; attempted: number }> {
    const made = await deliverChanges(db, at, leaseMs)
    return { made, attempted: await deliverDue(at) }
  }

  // The loop: one run at a time; a wake during a run asks for another.
  const woken = new Set<string>()
  let sweepIn = 0
  let running: Promise<void> | undefined
  let again = false
  let timer: Timer | undefined
  let soon: Timer | undefined

  async function run(): Promise<void> {
    const at = now()
    const users = [...woken]
    woken.clear()
    if (sweepIn-- <= 0) {
      sweepIn = SWEEP_EVERY
      await deliverChanges(db, at, leaseMs)
    } else if (users.length) await deliverChanges(db, at, leaseMs, users)
    await deliverDue(at)
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

  return {
    tick,
    /** This instance wrote to the user's lists or tasks, or queued an event (after commit): run soon. */
    wake(userId?: string): void {
      if (userId !== undefined) woken.add(userId)
      soon ??= setTimeout(() => {
        soon = undefined
        runNow()
      }, 0)
      soon.unref?.()
    },
    /** Runs every second until stopped (the timers never keep the process alive). */
    start(): void {
      timer = setInterval(runNow, POLL_MS)
      timer.unref()
    },
    /** Stops the loop and abandons the attempts under way (their leases lapse: sent again elsewhere). */
    async stop(): Promise<void> {
      clearInterval(timer)
      clearTimeout(soon)
      stopping.abort()
      await running
    },
  }
}

/**
 * The notifier, also waking the worker after each write of this instance, and
 * after reminders fired here: its change and reminder deliveries go out at once.
 */
export function wakingWebhooks(notifier: Notifier, worker: Pick<WebhookWorker, 'wake'>): Notifier {
  return {
    ...notifier,
    changed(userId) {
      notifier.changed(userId)
      worker.wake(userId)
    },
    reminded(userId) {
      notifier.reminded(userId)
      worker.wake(userId)
    },
  }
}
