import { fileURLToPath } from 'node:url'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import type { PgliteDatabase } from 'drizzle-orm/pglite'
import postgres from 'postgres'

export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url))

// Any fixed number shared by every instance of this service.
const MIGRATION_LOCK = 7_302_551_001

/**
 * Applies drizzle/ to PostgreSQL with drizzle's own bookkeeping
 * (drizzle.__drizzle_migrations), in one transaction that first takes a
 * transaction-scoped advisory lock: instances starting together migrate one
 * at a time and the later ones find nothing to do. Transaction-scoped, not
 * session-scoped, because a pooler in transaction mode (PgBouncer, Neon's
 * -pooler endpoints) may send a later unlock to another backend and leave the
 * lock held for good. No prepared statements, for the same poolers.
 */
export async function migratePostgresDatabase(url: string): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder })
  const client = postgres(url, { max: 1, prepare: false, onnotice: () => {}, connect_timeout: 10 })
  try {
    await client.begin(async (tx) => {
      // A stuck migration elsewhere ends this start with a clear error, not a silent hang.
      await tx`select set_config('lock_timeout', '60s', true)`
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`
      await tx`create schema if not exists drizzle`
      await tx`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`
      const [last] = await tx`select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`
      for (const migration of migrations) {
        if (last && Number(last.created_at) >= migration.folderMillis) continue
        for (const statement of migration.sql) if (statement.trim()) await tx.unsafe(statement)
        await tx`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`
      }
    })
  } finally {
    await client.end({ timeout: 5 })
  }
}

/** PGlite is single-connection and private to this process: drizzle's migrator as is. */
export async function migratePgliteDatabase(db: PgliteDatabase<any>): Promise<void> {
  const { migrate } = await import('drizzle-orm/pglite/migrator')
  await migrate(db, { migrationsFolder })
}
