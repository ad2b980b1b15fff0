import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  check,
  customType,
  date,
  foreignKey,
  index,
  integer,
  json,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core'

// Declared in this order so that ORDER BY priority sorts low < medium < high.
export const priority = pgEnum('task_priority', ['low', 'medium', 'high'])

// Sort keys made by fractional-indexing (src/lists/positions.ts): compared byte
// by byte, whatever collation the database was created with.
const sortKey = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' })

// A user's task lists. Keyed by (user_id, id), like tasks, so both can be
// distributed by user_id (Citus) and joined on it.
export const lists = pgTable(
  'lists',
  {
    userId: text('user_id').notNull(),
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity({ maxValue: Number.MAX_SAFE_INTEGER }),
    name: text('name').notNull(),
    color: text('color'),
    isDefault: boolean('is_default').notNull().default(false),
    position: sortKey('position').notNull(),
    // Bumped on every change: the ETag, and the compare-and-set behind If-Match.
    version: integer('version').notNull().default(1),
    // Where the list's last change sits in the user's change feed (src/sync/feed.ts).
    changePosition: bigint('change_position', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.id] }),
    // Serves the 403-versus-404 existence check, which must not know the owner.
    index('lists_id_idx').on(table.id),
    // Serves sync: the user's lists changed since a position, in feed order.
    index('lists_user_change_idx').on(table.userId, table.changePosition, table.id),
    // Exactly one default list per user, however many first requests race to make it.
    uniqueIndex('lists_one_default_idx').on(table.userId).where(sql`${table.isDefault}`),
    // Never two lists at one position, also under concurrent moves.
    uniqueIndex('lists_user_position_idx').on(table.userId, table.position),
  ],
)

// Keyed by (user_id, id) so the table can be distributed by user_id (Citus)
// without changing a query; user_id is text because Better Auth ids are not UUIDs.
export const tasks = pgTable(
  'tasks',
  {
    userId: text('user_id').notNull(),
    // JSON carries integers exactly up to 2^53 - 1: the sequence stops there rather than round.
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity({ maxValue: Number.MAX_SAFE_INTEGER }),
    listId: bigint('list_id', { mode: 'number' }).notNull(),
    // Null for a top-level task; else the task it is a subtask of, in the same list.
    parentId: bigint('parent_id', { mode: 'number' }),
    // Orders a task among its siblings (same list, same parent).
    position: sortKey('position').notNull(),
    title: text('title').notNull(),
    description: text('description'),
    completed: boolean('completed').notNull().default(false),
    priority: priority('priority').notNull().default('medium'),
    // A due date is a moment (due_date) or a whole day (due_day, that day in
    // the user's time zone), never both: each kind has its own index, and the
    // answer's due_date is derived from the two (src/tasks/columns.ts).
    dueDate: timestamp('due_date', { withTimezone: true, precision: 3, mode: 'string' }),
    dueDay: date('due_day', { mode: 'string' }),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    // A recurring task (src/recurrence): its RRULE, normalized, and what the
    // next due date counts from. Null for a task that does not recur.
    recurrenceRule: text('recurrence_rule'),
    recurrenceFrom: text('recurrence_from', { enum: ['due', 'completion'] }),
    // The series start (DTSTART): the due date's wall-clock date and time in
    // the user's zone when the series (re)started. Occurrences keep that time
    // of day across daylight saving changes and a change of the user's zone.
    recurrenceStart: timestamp('recurrence_start', { precision: 3, mode: 'string' }),
    // Occurrences completed since the series start (COUNT of a series counted from completion).
    recurrenceDone: integer('recurrence_done').notNull().default(0),
    // The rule's occurrences before the series start (COUNT of a series
    // counted from due): each completion starts the series again at the
    // occurrence it moves to, so that none walks the series from its first.
    recurrenceCounted: integer('recurrence_counted').notNull().default(0),
    // As the client gave them ({before_minutes} or {at}, at in UTC), so reads need no join;
    // when each fires next is kept in reminder_firings (src/reminders/schedule.ts).
    reminders: jsonb('reminders').$type<({ before_minutes: number } | { at: string })[]>().notNull().default(sql`'[]'::jsonb`),
    // Bumped on every change: the ETag, and the compare-and-set behind If-Match.
    version: integer('version').notNull().default(1),
    // Where the task's last change sits in the user's change feed (src/sync/feed.ts).
    changePosition: bigint('change_position', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.id] }),
    // Serves the 403-versus-404 existence check, which must not know the owner.
    index('tasks_id_idx').on(table.id),
    // Serves sync: the user's tasks changed since a position, in feed order.
    index('tasks_user_change_idx').on(table.userId, table.changePosition, table.id),
    index('tasks_user_created_idx').on(table.userId, table.createdAt, table.id),
    index('tasks_user_updated_idx').on(table.userId, table.updatedAt, table.id),
    index('tasks_user_due_idx').on(table.userId, table.dueDate, table.id),
    // Most tasks have no whole day: only those that do are indexed.
    index('tasks_user_due_day_idx').on(table.userId, table.dueDay, table.id).where(sql`${table.dueDay} is not null`),
    check('tasks_due_one_kind', sql`${table.dueDate} is null or ${table.dueDay} is null`),
    check(
      'tasks_recurrence_from',
      sql`${table.recurrenceFrom} in ('due', 'completion') and ${table.recurrenceRule} is not null or ${table.recurrenceFrom} is null and ${table.recurrenceRule} is null`,
    ),
    // A series counts from its due date: the write that would leave a recurring task without one is refused.
    check(
      'tasks_recurrence_needs_due',
      sql`${table.recurrenceRule} is null or ${table.dueDate} is not null or ${table.dueDay} is not null`,
    ),
    // Never two siblings at one position, also under concurrent moves; serves
    // the siblings in order (top-level tasks have parent 0 here).
    uniqueIndex('tasks_sibling_position_idx').on(table.userId, table.listId, sql`coalesce(${table.parentId}, 0)`, table.position),
    // Deleting a list deletes its tasks, and deleting a task its subtasks, even
    // if a statement forgot to: the service deletes them itself, counting them.
    foreignKey({ columns: [table.userId, table.listId], foreignColumns: [lists.userId, lists.id] }).onDelete('cascade'),
    foreignKey({ columns: [table.userId, table.parentId], foreignColumns: [table.userId, table.id] }).onDelete('cascade'),
  ],
)

// Each completion of a recurring task (src/recurrence): when, and the due
// date it had then (a moment or a whole day, as the task had it). Keyed by
// user_id first, like every table of user data; gone with its task.
export const taskCompletions = pgTable(
  'task_completions',
  {
    userId: text('user_id').notNull(),
    taskId: bigint('task_id', { mode: 'number' }).notNull(),
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity({ maxValue: Number.MAX_SAFE_INTEGER }),
    completedAt: timestamp('completed_at', { withTimezone: true, precision: 3, mode: 'string' }).notNull(),
    dueDate: timestamp('due_date', { withTimezone: true, precision: 3, mode: 'string' }),
    dueDay: date('due_day', { mode: 'string' }),
  },
  (table) => [
    // Also serves a task's completions newest first.
    primaryKey({ columns: [table.userId, table.taskId, table.id] }),
    foreignKey({ columns: [table.userId, table.taskId], foreignColumns: [tasks.userId, tasks.id] }).onDelete('cascade'),
  ],
)

// One row per user that holds tasks or lists: the per-user limits are enforced
// by an atomic increment here, so concurrent creates cannot overshoot them.
// Every write of the user's lists and tasks locks it, so it also carries the
// user's change feed position: one per-user row touched per write.
export const taskQuotas = pgTable('task_quotas', {
  userId: text('user_id').primaryKey(),
  taskCount: integer('task_count').notNull().default(0),
  // The same for lists (the default list included).
  listCount: integer('list_count').notNull().default(0),
  // The position of the user's last committed change (src/sync/feed.ts).
  changePosition: bigint('change_position', { mode: 'number' }).notNull().default(0),
  // Deletions at or below this position have been forgotten: an older cursor is expired.
  forgottenThrough: bigint('forgotten_through', { mode: 'number' }).notNull().default(0),
})

// What sync says of a list or task that is gone: its id and where its
// deletion sits in the user's feed. Kept 30 days (src/sync/purge.ts).
export const deletions = pgTable(
  'deletions',
  {
    userId: text('user_id').notNull(),
    kind: text('kind', { enum: ['list', 'task'] }).notNull(),
    id: bigint('id', { mode: 'number' }).notNull(),
    changePosition: bigint('change_position', { mode: 'number' }).notNull(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.kind, table.id] }),
    index('deletions_user_change_idx').on(table.userId, table.changePosition),
    index('deletions_deleted_at_idx').on(table.deletedAt),
  ],
)

// Own accounts (/api/auth/*). The id is text, like tasks.user_id, because a
// Better Auth subject is not a UUID and both kinds of id meet in one query.
export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name'),
    passwordHash: text('password_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  // Emails are stored lower-cased; the index on lower() makes uniqueness
  // case-insensitive in the database itself, whatever a caller stores.
  (table) => [uniqueIndex('users_email_lower_idx').on(sql`lower(${table.email})`)],
)

// Sign-up and sign-in token buckets, one row per limit and client address,
// shared by every instance on this database (src/auth/rate-limit.ts).
export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  // When the bucket is full again: each token taken moves it one refill later.
  // A row past it is the same as no row, and is swept.
  fullAt: timestamp('full_at', { withTimezone: true, precision: 3, mode: 'string' }).notNull(),
  // Whether the attempt that last wrote the row took a token: RETURNING sees
  // only the row as written, not the one it replaced.
  taken: boolean('taken').notNull(),
})

// Idempotency-Key: the first answer to a write, kept 24 hours per user and key
// (src/idempotency), so that a retry reaching any instance gets it again.
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: text('user_id').notNull(),
    key: text('key').notNull(),
    // Method, path and body of the first request: a different request with the key is refused.
    fingerprint: text('fingerprint').notNull(),
    // Null while the first request runs.
    status: integer('status'),
    headers: jsonb('headers').$type<Record<string, string>>(),
    body: text('body'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.key] }), index('idempotency_keys_created_idx').on(table.createdAt)],
)

// POST /api/events/ticket: single-use tickets for EventSource, which cannot
// send an Authorization header (src/events/tickets.ts). Only a hash is kept.
export const eventTickets = pgTable(
  'event_tickets',
  {
    ticketHash: text('ticket_hash').primaryKey(),
    userId: text('user_id').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (table) => [index('event_tickets_expires_idx').on(table.expiresAt)],
)

// A user's settings; no row means the defaults (a Better Auth user may have no
// local account, and every user has settings). Keyed by user_id, like every
// table of user data, so it can be distributed with the tasks (Citus).
export const userSettings = pgTable('user_settings', {
  userId: text('user_id').primaryKey(),
  // A canonical IANA name (src/settings/time-zones.ts): day-based views are evaluated in it.
  timeZone: text('time_zone').notNull().default('UTC'),
  // Bumped on every change: the ETag, and the compare-and-set behind If-Match. 0 = the defaults.
  version: integer('version').notNull().default(0),
})

// Reminders not yet fired, with when each fires next (src/reminders/schedule.ts):
// recomputed from the task row whenever what they count from changes, and
// deleted when the scheduler claims them. Every row is pending, so the index
// on fire_at is the scheduler's whole work list. fire_at is in the key: a
// firing already due but not yet claimed stays when the task's reminders are
// recomputed, beside the one they now give.
export const reminderFirings = pgTable(
  'reminder_firings',
  {
    userId: text('user_id').notNull(),
    taskId: bigint('task_id', { mode: 'number' }).notNull(),
    // The reminder's index in tasks.reminders.
    reminder: integer('reminder').notNull(),
    fireAt: timestamp('fire_at', { withTimezone: true, precision: 3, mode: 'string' }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.taskId, table.reminder, table.fireAt] }),
    index('reminder_firings_fire_at_idx').on(table.fireAt),
    foreignKey({ columns: [table.userId, table.taskId], foreignColumns: [tasks.userId, tasks.id] }).onDelete('cascade'),
  ],
)

// What fired, per user, for the live streams to send (src/reminders/notices.ts):
// written in the transaction that claims the firing, kept an hour.
export const reminderNotices = pgTable(
  'reminder_notices',
  {
    userId: text('user_id').notNull(),
    // The user's notices in commit order (reminder_counters): a stream never skips one.
    number: bigint('number', { mode: 'number' }).notNull(),
    // The event's data as sent: {task_id, title, due_date, remind_at} (json, not jsonb: kept in that order).
    data: json('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.number] }), index('reminder_notices_created_idx').on(table.createdAt)],
)

// The number of each user's last notice. Claims lock it, so notice numbers
// commit in order; only claims touch it, so it never waits on a task write.
export const reminderCounters = pgTable('reminder_counters', {
  userId: text('user_id').primaryKey(),
  lastNotice: bigint('last_notice', { mode: 'number' }).notNull().default(0),
})

// A user's webhooks (src/webhooks): where their events are POSTed, signed with
// the secret (Standard Webhooks). Keyed by (user_id, id) like every table of user data.
export const webhooks = pgTable(
  'webhooks',
  {
    userId: text('user_id').notNull(),
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity({ maxValue: Number.MAX_SAFE_INTEGER }),
    url: text('url').notNull(),
    events: text('events').array().notNull(),
    // whsec_<base64>: kept to sign every delivery, shown to the user only when made.
    secret: text('secret').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    // Set by the first failed delivery after a success; cleared by a success.
    failingSince: timestamp('failing_since', { withTimezone: true, precision: 3 }),
    // Set when deliveries kept failing for 24 hours: nothing more is sent.
    disabledAt: timestamp('disabled_at', { withTimezone: true, precision: 3 }),
    // How far into the user's change feed `change` deliveries have been made
    // (a sync cursor's parts, src/sync/cursor.ts); starts at the feed's position when made.
    feedFloor: bigint('feed_floor', { mode: 'number' }).notNull().default(0),
    feedPosition: bigint('feed_position', { mode: 'number' }).notNull().default(0),
    feedKind: text('feed_kind', { enum: ['list', 'task', 'end'] })
      .notNull()
      .default('end'),
    feedId: bigint('feed_id', { mode: 'number' }).notNull().default(0),
    // The worker turning feed changes into deliveries holds this claim until then
    // (an instance that dies lets it lapse); the token makes its writes conditional on still holding it.
    feedClaim: text('feed_claim'),
    feedClaimUntil: timestamp('feed_claim_until', { withTimezone: true, precision: 3 }),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.id] }),
    // Serves the 403-versus-404 existence check, which must not know the owner.
    index('webhooks_id_idx').on(table.id),
    // The webhooks whose change deliveries may be behind their user's feed: the worker's sweep.
    index('webhooks_change_idx').on(table.userId).where(sql`${table.disabledAt} is null and 'change' = any(${table.events})`),
  ],
)

// The outbox: one row per event to deliver to one webhook, sent by whichever
// instance's worker claims it first (src/webhooks/worker.ts), retried with backoff.
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    userId: text('user_id').notNull(),
    // By default, not always: rows are inserted by INSERT ... SELECT, which names every column (queries.ts).
    id: bigint('id', { mode: 'number' }).generatedByDefaultAsIdentity({ maxValue: Number.MAX_SAFE_INTEGER }),
    webhookId: bigint('webhook_id', { mode: 'number' }).notNull(),
    event: text('event', { enum: ['reminder', 'change'] }).notNull(),
    // The webhook-id header: the same on every attempt, so receivers can drop repeats.
    messageId: text('message_id').notNull(),
    // The exact body sent (and signed) on every attempt.
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'retrying', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    responseStatus: integer('response_status'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    attemptedAt: timestamp('attempted_at', { withTimezone: true, precision: 3 }),
    // When a worker may take it next: its next attempt, or the end of the lease of
    // the attempt under way. Null once delivered or given up.
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, precision: 3 }),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.id] }),
    // Deleting a webhook (or the account's webhooks) deletes its deliveries.
    foreignKey({ columns: [table.userId, table.webhookId], foreignColumns: [webhooks.userId, webhooks.id] }).onDelete('cascade'),
    // The worker's one query when idle: deliveries due, across users.
    index('webhook_deliveries_due_idx').on(table.nextAttemptAt).where(sql`${table.nextAttemptAt} is not null`),
    // A webhook's recent deliveries, newest first.
    index('webhook_deliveries_webhook_idx').on(table.userId, table.webhookId, table.id),
    index('webhook_deliveries_created_idx').on(table.createdAt),
  ],
)
