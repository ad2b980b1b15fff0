import { sql } from 'drizzle-orm'
import { bigint, boolean, index, integer, pgEnum, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core'

// Declared in this order so that ORDER BY priority sorts low < medium < high.
export const priority = pgEnum('task_priority', ['low', 'medium', 'high'])

// Keyed by (user_id, id) so the table can be distributed by user_id (Citus)
// without changing a query; user_id is text because Better Auth ids are not UUIDs.
export const tasks = pgTable(
  'tasks',
  {
    userId: text('user_id').notNull(),
    // JSON carries integers exactly up to 2^53 - 1: the sequence stops there rather than round.
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity({ maxValue: Number.MAX_SAFE_INTEGER }),
    title: text('title').notNull(),
    description: text('description'),
    completed: boolean('completed').notNull().default(false),
    priority: priority('priority').notNull().default('medium'),
    dueDate: timestamp('due_date', { withTimezone: true, precision: 3, mode: 'string' }),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    // Bumped on every change: the ETag, and the compare-and-set behind If-Match.
    version: integer('version').notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.id] }),
    // Serves the 403-versus-404 existence check, which must not know the owner.
    index('tasks_id_idx').on(table.id),
    index('tasks_user_created_idx').on(table.userId, table.createdAt, table.id),
    index('tasks_user_updated_idx').on(table.userId, table.updatedAt, table.id),
    index('tasks_user_due_idx').on(table.userId, table.dueDate, table.id),
  ],
)

// One row per user that holds tasks: the per-user limit is enforced by an
// atomic increment here, so concurrent creates cannot overshoot it.
export const taskQuotas = pgTable('task_quotas', {
  userId: text('user_id').primaryKey(),
  taskCount: integer('task_count').notNull().default(0),
})

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
