// The PostgreSQL side of a run: the admin connection, the bench databases
// (created, seeded, put back between runs, dropped), the backends serving
// each server, and all of a local server pinned to core 1.

import postgres, { type Sql } from 'postgres'
import { ADMIN_URL, STOCK } from './options'
import { isPostgres, parentOf, postgresProcesses, procTicks } from './proc'
import { run, TASKSET } from './processes'
import { log } from './report'

let admin: Sql | undefined
const databases: string[] = []
let restoreAffinity: (() => void) | undefined

export async function openAdmin(): Promise<void> {
  admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  await admin`select 1`
}

/** At clean-up: every bench database dropped, the admin connection closed. */
export async function dropDatabases(): Promise<void> {
  if (!admin) return
  for (const name of databases) {
    try {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
    } catch (error) {
      console.error(`bench: could not drop ${name}: ${(error as Error).message}`)
    }
  }
  await admin.end({ timeout: 5 })
}

export async function createDatabase(prefix: string): Promise<{ name: string; url: string; sql: Sql }> {
  const name = `${prefix}_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`
  await admin!.unsafe(`create database ${name}`)
  databases.push(name)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {}, connect_timeout: 10, idle_timeout: 30 })
  return { name, url: url.toString(), sql }
}

/** The PostgreSQL backends serving the bench database, by application name. */
async function backends(database: string, application: string): Promise<number[]> {
  const rows = await admin!`select pid from pg_stat_activity where datname = ${database} and application_name = ${application}`
  return rows.map((row) => row.pid as number)
}

export async function backendTicks(database: string, application: string): Promise<Map<number, number>> {
  const ticks = new Map<number, number>()
  for (const pid of await backends(database, application)) ticks.set(pid, procTicks(pid))
  return ticks
}

/**
 * All of a local PostgreSQL server goes to core 1, not only the bench's
 * backends: its checkpointer, WAL writer and autovacuum workers on core 0
 * would take time from the server being measured. New backends inherit the
 * postmaster's core. Undone at clean-up. Nothing happens for a remote server.
 */
export async function pinPostgres(): Promise<void> {
  if (!TASKSET) return
  const [backend] = await admin!<{ pid: number }[]>`select pg_backend_pid() as pid`
  // A remote server's backend pid may name some unrelated local process.
  if (!isPostgres(backend!.pid)) return
  const postmaster = parentOf(backend!.pid)
  if (!isPostgres(postmaster)) return
  const affinity = run(['taskset', '-p', '-c', String(postmaster)]).stdout.match(/list: (\S+)/)?.[1]
  if (!affinity) return
  for (const process of postgresProcesses(postmaster)) run(['taskset', '-p', '-c', '1', String(process)], 2000)
  restoreAffinity = () => {
    for (const process of postgresProcesses(postmaster)) run(['taskset', '-p', '-c', affinity, String(process)], 2000)
  }
}

/** At clean-up: the PostgreSQL server's processes back on the cores they had. */
export function restorePostgres(): void {
  restoreAffinity?.()
}

/** How a seeded user is stocked: its lists, its tasks, and how many of its first lists hold the tasks. */
export interface Stock {
  lists: number
  tasks: number
  listsHoldingTasks: number
}

/** Users prefix-<n> with their lists, tasks and quota rows, each kind in one INSERT ... SELECT generate_series. */
export async function seed(sql: Sql, users: { prefix: string; from: number; to: number }, stock: Stock): Promise<void> {
  for (const statement of seedStatements(users, stock)) await sql.unsafe(statement)
}

// The key of a user's list n (from 0): the keys fractional-indexing gives N
// items in a row (a0..az, b00..bzz), so the default list, n = 0, is at a0 as
// the service makes it. Enough for 3,906 lists; a user holds at most 1,000.
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const listKey = (n: string) => `case when ${n} < 62 then 'a' || substr('${DIGITS}', ${n} + 1, 1)
  else 'b' || substr('${DIGITS}', (${n} - 62) / 62 + 1, 1) || substr('${DIGITS}', (${n} - 62) % 62 + 1, 1) end`

export function seedStatements(users: { prefix: string; from: number; to: number }, stock: Stock): string[] {
  const user = `'${users.prefix}' || u`
  const range = `generate_series(${users.from}, ${users.to}) u`
  return [
    `
    insert into lists (user_id, name, color, is_default, position, created_at, updated_at)
    select ${user}, case when n = 0 then 'Inbox' else 'List ' || n end, case when n % 4 = 1 then '#3366ff' end, n = 0, ${listKey('n')},
           now() - (${stock.lists} - n) * interval '1 hour', now() - (${stock.lists} - n) * interval '1 hour'
    from ${range} cross join generate_series(0, ${stock.lists - 1}) n
    on conflict do nothing`,
    // Task t in list (t - 1) mod listsHoldingTasks, last there in created
    // order; a key's fraction never ends in 0. A fifth are due at a moment, a
    // fifth on a whole day (within two weeks).
    `
    insert into tasks (user_id, list_id, position, title, description, completed, priority, due_date, due_day, tags, created_at, updated_at)
    select ${user},
           holding.id,
           'b' || lpad(t::text, 5, '0') || '1',
           'Task ' || t || case when t % 20 = 7 then ' buy word' else '' end,
           case when t % 10 = 1 then 'Notes on task ' || t || case when t % 30 = 1 then ', a word inside' else '' end end,
           t % 3 = 0,
           (array['low', 'medium', 'high'])[1 + t % 3]::task_priority,
           case when t % 5 = 0 then now() + t * interval '1 hour' end,
           case when t % 5 = 2 then current_date + t % 14 end,
           case when t % 10 = 3 then array['x', 'work'] when t % 4 = 0 then array['home'] else '{}'::text[] end,
           now() - (${stock.tasks} - t) * interval '1 minute' - u * interval '1 millisecond',
           now() - (${stock.tasks} - t) * interval '1 minute' - u * interval '1 millisecond'
    from ${range} cross join generate_series(1, ${stock.tasks}) t
    join lists holding on holding.user_id = ${user} and holding.position = ${listKey(`(t - 1) % ${stock.listsHoldingTasks}`)}`,
    `
    insert into task_quotas (user_id, task_count, list_count)
    select ${user}, ${stock.tasks}, ${stock.lists} from ${range}
    on conflict (user_id) do update set task_count = excluded.task_count, list_count = excluded.list_count`,
  ]
}

let checkpointRefused = false

/** A checkpoint where the role may take one (superuser or pg_checkpoint); said once when it may not. */
export async function checkpoint(sql: Sql, when: string): Promise<void> {
  if (checkpointRefused) return
  try {
    await sql`checkpoint`
  } catch (error) {
    checkpointRefused = true
    log(`bench: no checkpoint ${when} (${(error as Error).message}); write figures will be noisier`)
  }
}

/**
 * Every measured run starts from the same database: the seeded tasks only,
 * no dead rows, and a checkpoint just taken. Without it a run pays for the
 * runs before it: writes slow run after run as the quota rows' dead
 * versions pile up until autovacuum comes, and whichever run meets a
 * checkpoint pays its full-page writes.
 */
export async function resetTables(sql: Sql, seeded: number): Promise<void> {
  await sql`delete from tasks where id > ${seeded}`
  // Writes moved the feed on: back to the seeded position, where revalidate's ETags were taken.
  await sql`update task_quotas set task_count = ${STOCK.tasks}, change_position = 0 where task_count <> ${STOCK.tasks} or change_position <> 0`
  await sql`vacuum tasks, task_quotas`
  await checkpoint(sql, 'between runs')
}
