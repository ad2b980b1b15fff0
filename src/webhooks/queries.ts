// A user's webhooks and what was delivered to them; enqueueWebhookEvent for
// the features whose events they receive.
import { randomBytes } from 'node:crypto'
import { and, desc, eq, lt, type SQL, sql } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import type { Database } from '../db/client'
import { prepared, type Transaction, transaction } from '../db/operations'
import { explainMissing, owned } from '../db/ownership'
import { taskQuotas, webhookDeliveries, webhooks } from '../db/schema'
import { iso } from '../tasks/columns'
import { WebhookLimitReached, WebhookNotFound } from './errors'
import type { CreatedWebhook, Delivery, Webhook, WebhookEvent, WebhookModel } from './model'

export const MAX_WEBHOOKS_PER_USER = 10
// Standard Webhooks: a secret of 24 to 64 random bytes, base64, after "whsec_".
const SECRET_BYTES = 32

type CreateInput = typeof WebhookModel.create.static

const placeholder = (name: string) => sql.placeholder(name)
const isoOrNull = (column: PgColumn) => sql<string | null>`case when ${column} is null then null else ${iso(column)} end`

/** What every answer holds (never user_id; the secret only when made). */
const answerColumns = {
  id: webhooks.id,
  url: webhooks.url,
  events: sql<WebhookEvent[]>`${webhooks.events}`,
  created_at: iso(webhooks.createdAt),
  failing_since: isoOrNull(webhooks.failingSince),
  disabled_at: isoOrNull(webhooks.disabledAt),
}

export const webhookResource = { name: 'webhook', notFound: () => new WebhookNotFound() }

export function newSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`
}

/**
 * Registers a webhook (its URL already checked), at most MAX_WEBHOOKS_PER_USER
 * per user: concurrent creates of one user take turns on a transaction-scoped
 * advisory lock (no session state: it works behind a transaction pooler).
 * Its change deliveries start at the user's feed position now: only what
 * happens from now on.
 */
export async function createWebhook(db: Database, userId: string, input: CreateInput, now: Date): Promise<CreatedWebhook> {
  return transaction(db, async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`webhooks:${userId}`}, 0))`)
    const [held] = await tx.select({ count: sql<number>`count(*)::int` }).from(webhooks).where(eq(webhooks.userId, userId))
    if (held!.count >= MAX_WEBHOOKS_PER_USER) throw new WebhookLimitReached(MAX_WEBHOOKS_PER_USER)
    const position = sql`coalesce((select ${taskQuotas.changePosition} from ${taskQuotas} where ${taskQuotas.userId} = ${userId}), 0)`
    const [made] = await tx
      .insert(webhooks)
      .values({
        userId,
        url: input.url,
        events: input.events,
        secret: newSecret(),
        createdAt: now,
        feedFloor: position as unknown as number,
        feedPosition: position as unknown as number,
      })
      .returning({ ...answerColumns, secret: webhooks.secret })
    return made!
  })
}

export async function listWebhooks(db: Database, userId: string): Promise<Webhook[]> {
  const list = prepared(db, 'webhooks_list', (name) =>
    db
      .select(answerColumns)
      .from(webhooks)
      .where(eq(webhooks.userId, placeholder('userId')))
      .orderBy(webhooks.id)
      .prepare(name),
  )
  return list.execute({ userId })
}

export async function getWebhook(db: Database, userId: string, id: number): Promise<Webhook> {
  const get = prepared(db, 'webhooks_get', (name) => db.select(answerColumns).from(webhooks).where(owned(webhooks)).prepare(name))
  const [found] = await get.execute({ userId, id })
  return found ?? explainMissing(db, webhooks, webhookResource, userId, id)
}

/** Deletes the webhook; its deliveries go with it (foreign key cascade). */
export async function deleteWebhook(db: Database, userId: string, id: number): Promise<void> {
  const remove = prepared(db, 'webhooks_delete', (name) =>
    db.delete(webhooks).where(owned(webhooks)).returning({ id: webhooks.id }).prepare(name),
  )
  const [gone] = await remove.execute({ userId, id })
  if (!gone) await explainMissing(db, webhooks, webhookResource, userId, id)
}

/** The webhook's most recent deliveries, newest first. */
export async function listDeliveries(db: Database, userId: string, webhookId: number, limit: number): Promise<Delivery[]> {
  const list = prepared(db, 'webhook_deliveries_list', (name) =>
    db
      .select({
        id: webhookDeliveries.id,
        message_id: webhookDeliveries.messageId,
        event: webhookDeliveries.event,
        status: webhookDeliveries.status,
        attempts: webhookDeliveries.attempts,
        response_status: webhookDeliveries.responseStatus,
        error: webhookDeliveries.error,
        created_at: iso(webhookDeliveries.createdAt),
        attempted_at: isoOrNull(webhookDeliveries.attemptedAt),
        next_attempt_at: isoOrNull(webhookDeliveries.nextAttemptAt),
      })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.userId, placeholder('userId')), eq(webhookDeliveries.webhookId, placeholder('webhookId'))))
      .orderBy(desc(webhookDeliveries.id))
      .limit(placeholder('limit'))
      .prepare(name),
  )
  const found = await list.execute({ userId, webhookId, limit })
  // An empty page says nothing of whether the webhook is the caller's: 404 and 403 as for the webhook itself.
  if (!found.length) await getWebhook(db, userId, webhookId)
  return found
}

/** The body every delivery carries (Standard Webhooks' recommended shape). */
export function payloadOf(type: WebhookEvent, data: unknown, at: Date): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data })
}

/**
 * The columns of a new delivery of `payload` to the webhook selected, in the
 * table's order: drizzle names every column in an INSERT ... SELECT, the
 * identity included, so its value is drawn here.
 */
const newDelivery = (type: SQL, payload: SQL, at: Date) =>
  sql`${webhooks.userId}, nextval('webhook_deliveries_id_seq'), ${webhooks.id}, ${type}, 'msg_' || replace(gen_random_uuid()::text, '-', ''), ${payload},
    'pending', 0, null, null, ${at.toISOString()}::timestamptz, null, ${at.toISOString()}::timestamptz`

/**
 * A delivery of each payload for each webhook of the user that is enabled and
 * receives `type` (only webhook `webhookId`, when given), in one statement.
 */
export function deliveriesFor(
  db: Database | Transaction,
  userId: string,
  type: WebhookEvent,
  payloads: string[],
  at: Date,
  webhookId?: number,
) {
  return db
    .insert(webhookDeliveries)
    .select(
      sql`select ${newDelivery(sql`${type}`, sql`payload`, at)}
        from ${webhooks}, unnest(${sql.param(payloads)}::text[]) with ordinality as each(payload, n)
        where ${webhooks.userId} = ${userId} and ${webhooks.disabledAt} is null and ${type} = any(${webhooks.events})
          ${webhookId === undefined ? sql`` : sql`and ${webhooks.id} = ${webhookId}`}
        order by ${webhooks.id}, n`,
    )
    .returning({ id: webhookDeliveries.id })
}

/** An event for one user's webhooks that receive its type. */
export type WebhookEventFor = { userId: string; type: WebhookEvent; data: unknown }

/**
 * For other features: inside the caller's transaction, queues each event for
 * every enabled webhook of its user that receives its type, all in one
 * statement (a batch of any size is one round trip; a user without webhooks
 * gets nothing). Sent by the worker once committed. Answers how many
 * deliveries were queued.
 */
export async function enqueueWebhookEvents(tx: Transaction, events: WebhookEventFor[], at: Date = new Date()): Promise<number> {
  if (!events.length) return 0
  const rows = JSON.stringify(events.map(({ userId, type, data }, n) => ({ user_id: userId, type, payload: payloadOf(type, data, at), n })))
  const made = await tx
    .insert(webhookDeliveries)
    .select(
      sql`select ${newDelivery(sql`each.type`, sql`each.payload`, at)}
        from json_to_recordset(${rows}::json) as each(user_id text, type text, payload text, n int)
        join ${webhooks} on ${webhooks.userId} = each.user_id and ${webhooks.disabledAt} is null and each.type = any(${webhooks.events})
        order by each.n, ${webhooks.id}`,
    )
    .returning({ id: webhookDeliveries.id })
  return made.length
}

/** enqueueWebhookEvents for one event. */
export function enqueueWebhookEvent(
  tx: Transaction,
  userId: string,
  type: WebhookEvent,
  data: unknown,
  at: Date = new Date(),
): Promise<number> {
  return enqueueWebhookEvents(tx, [{ userId, type, data }], at)
}

const KEPT_DAYS = 7

/** Forgets deliveries made more than 7 days before `now` (long delivered or given up). */
export async function purgeDeliveries(db: Database, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - KEPT_DAYS * 86_400_000)
  const gone = await db.delete(webhookDeliveries).where(lt(webhookDeliveries.createdAt, cutoff)).returning({ id: webhookDeliveries.id })
  return gone.length
}
