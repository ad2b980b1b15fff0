import { and, eq, type SQL, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared, preparedIn, type Transaction, transaction } from '../db/operations'
import { type Precondition, stateCheck, stateValues } from '../db/ownership'
import { userSettings } from '../db/schema'
import { PreconditionFailed } from '../errors'
import { rescheduleWholeDays } from '../reminders/schedule'
import { DEFAULT_TIME_ZONE, type Settings, type SettingsUpdate } from './model'

/** The settings as stored: the answer, plus the version behind its ETag (0: never changed). */
export type SettingsRow = Settings & { version: number }

const DEFAULTS: SettingsRow = { time_zone: DEFAULT_TIME_ZONE, version: 0 }
const rowColumns = { time_zone: userSettings.timeZone, version: userSettings.version }
const placeholder = (name: string) => sql.placeholder(name)
const mine = eq(userSettings.userId, placeholder('userId'))

/** The user's settings; the defaults for a user who never changed them (no row). */
export async function getSettings(db: Database, userId: string): Promise<SettingsRow> {
  const get = prepared(db, 'settings_get', (name) => db.select(rowColumns).from(userSettings).where(mine).prepare(name))
  const [row] = await get.execute({ userId })
  return row ?? DEFAULTS
}

/**
 * Applies the changes. The version moves only when a value really changes,
 * so repeating a write keeps the ETag. If-Match is a condition of the UPDATE
 * itself; a user without a row first gets one holding the defaults (version
 * 0, the same state as no row), so that the condition has a row to check.
 * A time zone sent moves the reminders of whole-day tasks with it, counted
 * from `now`, in the same transaction.
 */
export function updateSettings(
  db: Database,
  userId: string,
  changes: SettingsUpdate,
  precondition: Precondition | undefined,
  now: Date,
): Promise<SettingsRow> {
  return transaction(db, async (tx) => {
    await preparedIn(tx, 'settings_ensure', (name) =>
      tx
        .insert(userSettings)
        .values({ userId: placeholder('userId') })
        .onConflictDoNothing()
        .prepare(name),
    ).execute({ userId })
    const check = stateCheck([userSettings.version], precondition)
    const update = preparedIn(tx, `settings_update_${Boolean(check)}`, (name) => updateStatement(tx, check).prepare(name))
    const [row] = await update.execute({ userId, timeZone: changes.time_zone ?? null, ...stateValues(precondition) })
    if (!row) throw new PreconditionFailed('settings')
    if (changes.time_zone !== undefined) await rescheduleWholeDays(tx, userId, now)
    return row
  })
}

function updateStatement(tx: Transaction, check: SQL | undefined) {
  // A field not sent is null here, and keeps its value.
  const timeZone = sql`coalesce(${placeholder('timeZone')}, ${userSettings.timeZone})`
  const changed = sql`${userSettings.timeZone} is distinct from ${timeZone}`
  return tx
    .update(userSettings)
    .set({
      timeZone,
      version: sql`case when ${changed} then ${userSettings.version} + 1 else ${userSettings.version} end`,
    })
    .where(and(mine, check))
    .returning(rowColumns)
}
