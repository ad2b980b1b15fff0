// The worker's side of the deliveries table: take the deliveries that are due
// (each by one worker, across instances), then record how each attempt went.
// A delivery taken is leased: its next_attempt_at moves to the end of the
// lease, so a worker that dies mid-delivery leaves it to be taken again then.
import { and, asc, eq, isNotNull, isNull, lte, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { guarded } from '../db/guard'
import { transaction } from '../db/operations'
import { webhookDeliveries as deliveries, webhooks } from '../db/schema'

/** A delivery taken by this worker: what to send, where, and the attempt it is. */
export type Taken = {
  userId: string
  id: number
  webhookId: number
  messageId: string
  payload: string
  attempts: number
  createdAt: Date
  url: string
  secret: string
}

export type Outcome = { delivered: true; status: number } | { delivered: false; status: number | null; error: string }

// Standard Webhooks' schedule: after the first attempt fails, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h...
const BACKOFF_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000]
// Deliveries are retried, and a failing webhook kept, this long.
export const FAILING_FOR_MS = 24 * 3_600_000
// Each delay is drawn within ±20% of the schedule, so that retries of many deliveries spread out.
const JITTER = 0.2

/** When the delivery is attempted again after failing `attempts` times, or null to give up. */
export function nextAttempt(attempts: number, createdAt: Date, now: Date, random: () => number): Date | null {
  if (now.getTime() - createdAt.getTime() >= FAILING_FOR_MS) return null
  const base = BACKOFF_MS[Math.min(attempts, BACKOFF_MS.length) - 1]!
  return new Date(now.getTime() + Math.round(base * (1 - JITTER + 2 * JITTER * random())))
}

// Due deliveries looked at, oldest first, to pick at most `perWebhook` of each webhook.
const SCANNED = 1000

/** At most `perWebhook` attempts under way per webhook, counting those already under way on this worker. */
export type PerWebhookCap = { perWebhook: number; sending: ReadonlyMap<number, number> }

/**
 * Takes up to `limit` deliveries due at `now`, oldest first, skipping those
 * another worker is taking (FOR UPDATE SKIP LOCKED) and those of disabled
 * webhooks, and leases them until `leaseUntil`; with `cap`, no more of one
 * webhook than it leaves room for, so that a slow receiver holds a few of the
 * worker's attempts, never all of them. One short statement: nothing is held
 * while they are sent.
 */
export async function takeDue(db: Database, now: Date, leaseUntil: Date, limit: number, cap?: PerWebhookCap): Promise<Taken[]> {
  const isDue = sql`next_attempt_at is not null and next_attempt_at <= ${now.toISOString()}::timestamptz`
  // The rank of each among its webhook's oldest due deliveries, against the room the webhook has left.
  // Webhooks already at their cap are left out of the window: one webhook's
  // backlog would otherwise fill it, and no other webhook's delivery be taken.
  const full = JSON.stringify([...(cap?.sending ?? [])].filter(([, n]) => n >= (cap?.perWebhook ?? 0)).map(([webhookId]) => webhookId))
  const roomy = cap
    ? sql`(${deliveries.userId}, ${deliveries.id}) in (
        select ranked.user_id, ranked.id
        from (select user_id, id, webhook_id, row_number() over (partition by user_id, webhook_id order by next_attempt_at, id) as rank
          from (select user_id, id, webhook_id, next_attempt_at from ${deliveries}
            where ${isDue} and webhook_id not in (select value::bigint from json_array_elements_text(${full}::json))
            order by next_attempt_at, id limit ${SCANNED}) oldest
        ) ranked
        left join json_to_recordset(${JSON.stringify([...cap.sending].map(([webhook_id, n]) => ({ webhook_id, n })))}::json)
          as busy(webhook_id bigint, n int) on busy.webhook_id = ranked.webhook_id
        where ranked.rank <= ${cap.perWebhook} - coalesce(busy.n, 0))`
    : undefined
  const due = db.$with('due').as(
    db
      .select({ userId: deliveries.userId, id: deliveries.id, url: webhooks.url, secret: webhooks.secret })
      .from(deliveries)
      // A disabled webhook's deliveries are not sent, whatever they say.
      .innerJoin(webhooks, and(eq(webhooks.userId, deliveries.userId), eq(webhooks.id, deliveries.webhookId), isNull(webhooks.disabledAt)))
      .where(and(isNotNull(deliveries.nextAttemptAt), lte(deliveries.nextAttemptAt, now), roomy))
      .orderBy(asc(deliveries.nextAttemptAt), asc(deliveries.id))
      .limit(limit)
      .for('update', { of: deliveries, skipLocked: true }),
  )
  // Within the guard, as every statement the routes send: it holds one of the pool's connections.
  return guarded(db, () =>
    db
      .with(due)
      .update(deliveries)
      .set({ attempts: sql`${deliveries.attempts} + 1`, attemptedAt: now, nextAttemptAt: leaseUntil })
      .from(due)
      .where(and(eq(deliveries.userId, due.userId), eq(deliveries.id, due.id)))
      .returning({
        userId: deliveries.userId,
        id: deliveries.id,
        webhookId: deliveries.webhookId,
        messageId: deliveries.messageId,
        payload: deliveries.payload,
        attempts: deliveries.attempts,
        createdAt: deliveries.createdAt,
        url: due.url,
        secret: due.secret,
      }),
  )
}

/** `where` for the delivery as this worker took it: a lease that lapsed and was taken again is no longer ours. */
const asTaken = (taken: Taken) =>
  and(eq(deliveries.userId, taken.userId), eq(deliveries.id, taken.id), eq(deliveries.attempts, taken.attempts))

/**
 * Records the attempt. A success clears the webhook's failing_since; a
 * failure sets it if unset, schedules the next attempt (or gives up after 24
 * hours), and a failure 24 hours after failing_since disables the webhook,
 * whose deliveries still waiting then fail. Answers whether the webhook was disabled.
 *
 * The webhook's row is locked first, so attempts of one webhook recorded at
 * once take turns (always webhook, then delivery: no deadlock), and an attempt
 * that ends after its webhook was disabled (or deleted) changes nothing: its
 * delivery stays failed.
 */
export async function recordAttempt(db: Database, taken: Taken, outcome: Outcome, now: Date, random: () => number): Promise<boolean> {
  return transaction(db, async (tx) => {
    const webhook = and(eq(webhooks.userId, taken.userId), eq(webhooks.id, taken.webhookId))
    const [enabled] = await tx
      .select({ id: webhooks.id })
      .from(webhooks)
      .where(and(webhook, isNull(webhooks.disabledAt)))
      .for('update')
    if (!enabled) return false
    if (outcome.delivered) {
      const [recorded] = await tx
        .update(deliveries)
        .set({ status: 'delivered', responseStatus: outcome.status, error: null, nextAttemptAt: null })
        .where(asTaken(taken))
        .returning({ id: deliveries.id })
      if (recorded) await tx.update(webhooks).set({ failingSince: null }).where(webhook)
      return false
    }
    const next = nextAttempt(taken.attempts, taken.createdAt, now, random)
    const [recorded] = await tx
      .update(deliveries)
      .set({ status: next ? 'retrying' : 'failed', responseStatus: outcome.status, error: outcome.error, nextAttemptAt: next })
      .where(asTaken(taken))
      .returning({ id: deliveries.id })
    if (!recorded) return false
    const [state] = await tx
      .update(webhooks)
      .set({ failingSince: sql`coalesce(${webhooks.failingSince}, ${now.toISOString()}::timestamptz)` })
      .where(webhook)
      .returning({ failingSince: webhooks.failingSince })
    if (!state || now.getTime() - state.failingSince!.getTime() < FAILING_FOR_MS) return false
    await tx.update(webhooks).set({ disabledAt: now }).where(webhook)
    await tx
      .update(deliveries)
      .set({ status: 'failed', error: 'webhook disabled after 24 hours of failures', nextAttemptAt: null })
      .where(and(eq(deliveries.userId, taken.userId), eq(deliveries.webhookId, taken.webhookId), isNotNull(deliveries.nextAttemptAt)))
    return true
  })
}
