// The PostgreSQL side of a run: the admin connection, the bench databases
// (created, seeded, put back between runs, dropped), the backends serving
// each server, and all of a local server pinned to core 1.

import postgres, { type Sql } from 'postgres'
import { ADMIN_URL, TASKS_PER_USER } from './options'
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

/** users × tasks rows of user ids prefix-<n>, through one INSERT ... SELECT generate_series, plus their quota rows. */
export async function seed(sql: Sql, users: { prefix: string; from: number; to: number }, tasksPerUser: number): Promise<void> {
  for (const statement of seedStatements(users, tasksPerUser)) await sql.unsafe(statement)
}

export function seedStatements(users: { prefix: string; from: number; to: number }, tasksPerUser: number): string[] {
  return [
    `
    insert into lists (user_id, name, is_default, position)
    select '${users.prefix}' || u, 'Inbox', true, 'a0' from generate_series(${users.from}, ${users.to}) u
    on conflict do nothing`,
    // Each task last in its user's default list, in created order; a key's fraction never ends in 0.
    `
    insert into tasks (user_id, list_id, position, title, description, completed, priority, due_date, tags, created_at, updated_at)
    select '${users.prefix}' || u,
           (select id from lists where user_id = '${users.prefix}' || u and is_default),
           'b' || lpad(t::text, 5, '0') || '1',
           'Task ' || t || case when t % 20 = 7 then ' buy word' else '' end,
           case when t % 10 = 1 then 'Notes on task ' || t || case when t % 30 = 1 then ', a word inside' else '' end end,
           t % 3 = 0,
           (array['low', 'medium', 'high'])[1 + t % 3]::task_priority,
           case when t % 5 = 0 then now() + t * interval '1 hour' end,
           case when t % 10 = 3 then array['x', 'work'] when t % 4 = 0 then array['home'] else '{}'::text[] end,
           now() - (${tasksPerUser} - t) * interval '1 minute' - u * interval '1 millisecond',
           now() - (${tasksPerUser} - t) * interval '1 minute' - u * interval '1 millisecond'
    from generate_series(${users.from}, ${users.to}) u cross join generate_series(1, ${tasksPerUser}) t`,
    `
    insert into task_quotas (user_id, task_count, list_count)
    select '${users.prefix}' || u, ${tasksPerUser}, 1 from generate_series(${users.from}, ${users.to}) u
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
  await sql`update task_quotas set task_count = ${TASKS_PER_USER} where task_count <> ${TASKS_PER_USER}`
  await sql`vacuum tasks, task_quotas`
  await checkpoint(sql, 'between runs')
}
