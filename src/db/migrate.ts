import { fileURLToPath } from 'node:url'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import type { PgliteDatabase } from 'drizzle-orm/pglite'
import postgres from 'postgres'

export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url))

// Any fixed number shared by every instance of this service.
const MIGRATION_LOCK = 7_302_551_001

/**
 * Applies drizzle/ to PostgreSQL on one dedicated connection holding an
 * advisory lock, so instances starting together migrate one at a time and the
 * later ones find nothing left to do.
 */
export async function migratePostgresDatabase(url: string): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK})`
    try {
      await migratePostgres(drizzlePostgres(client), { migrationsFolder })
    } finally {
      await client`select pg_advisory_unlock(${MIGRATION_LOCK})`
    }
  } finally {
    await client.end({ timeout: 5 })
  }
}

/** PGlite is single-connection and private to this process: no lock needed. */
export async function migratePgliteDatabase(db: PgliteDatabase<any>): Promise<void> {
  await migratePglite(db, { migrationsFolder })
}
