// The user's time zone inside a statement, for the statements that compute
// with it in SQL (a recurring task's series start, the reminders of whole days).
import { type SQL, type SQLWrapper, sql } from 'drizzle-orm'
import { userSettings } from '../db/schema'
import { DEFAULT_TIME_ZONE } from './model'

/** The time zone of the user `userId` (a placeholder or a column): their setting, else the default. */
export const userTimeZone = (userId: SQLWrapper): SQL<string> =>
  sql<string>`coalesce((select ${userSettings.timeZone} from ${userSettings} where ${userSettings.userId} = ${userId}), ${DEFAULT_TIME_ZONE})`
