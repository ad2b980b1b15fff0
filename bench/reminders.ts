// Reminders mode: the scheduler with a full schedule. 1,000 users hold 100
// tasks each, every task with a reminder pending (100,000); one instance of
// the service runs against them. First nothing is due: the CPU the service
// takes then is the idle scheduler's. Then 1,000 reminders, one per user,
// are moved into one second a few seconds ahead, while each user holds one
// open event stream: how long after its time each reached its stream.

import { writeFile } from 'node:fs/promises'
import { createDatabase, seed } from './database'
import { CLK_TCK, procTicks } from './proc'
import { stopProcess } from './processes'
import { environment, fmt, log, table } from './report'
import { mintTokens, startServer } from './servers'
import { percentile, readEvents } from './sse'

// REMINDERS_USERS and REMINDERS_IDLE_SECONDS shrink a run to check the harness quickly.
const USERS = Number(process.env.REMINDERS_USERS ?? 1000)
const TASKS = 100
const IDLE_SECONDS = Number(process.env.REMINDERS_IDLE_SECONDS ?? 30)
const OPEN_AT_ONCE = 200

export async function remindersMode(jsonPath?: string): Promise<void> {
  if (Number(process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? 256) < USERS + 100)
    throw new Error(
      `--reminders opens ${USERS} streams: run it as BUN_CONFIG_MAX_HTTP_REQUESTS=${USERS + 100} bun run bench -- --reminders`,
    )
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const db = await createDatabase('todo_bench_reminders')
  log(`database ${db.name}; ${await environment(db.sql)}`)
  // The first start applies the migrations; the seed goes in behind the service's back, so it restarts after.
  await stopProcess((await startServer('service', db.url, secret)).child)
  await seed(db.sql, { prefix: 'r-', from: 1, to: USERS }, { lists: 1, tasks: TASKS, listsHoldingTasks: 1 })
  // Every task reminds once, at a moment in the day after tomorrow.
  await db.sql`
    with firing as (
      insert into reminder_firings (user_id, task_id, reminder, fire_at)
      select user_id, id, 0, date_trunc('second', now() + interval '2 days' + random() * interval '1 day') from tasks
      returning user_id, task_id, fire_at)
    update tasks set reminders = jsonb_build_array(jsonb_build_object('at', to_char(firing.fire_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
    from firing where tasks.user_id = firing.user_id and tasks.id = firing.task_id`
  await db.sql`vacuum analyze`
  const [{ pending } = { pending: 0 }] = await db.sql<{ pending: number }[]>`select count(*)::int as pending from reminder_firings`
  const service = await startServer('service', db.url, secret)
  try {
    const users = Array.from({ length: USERS }, (_, i) => `r-${i + 1}`)
    const tokens = await mintTokens(secret, users)
    // Nothing is due: what the service's process takes is the scheduler's ticks (and timers).
    await Bun.sleep(2000)
    const idleFrom = procTicks(service.pid)
    await Bun.sleep(IDLE_SECONDS * 1000)
    const idlePercent = ((procTicks(service.pid) - idleFrom) / CLK_TCK / IDLE_SECONDS) * 100
    log(`idle: ${fmt(idlePercent, 2)} % of a core over ${IDLE_SECONDS} s with ${pending} reminders pending`)

    const latencies: number[] = []
    const fromSecond: number[] = []
    let second = 0
    let open = 0
    const streams: Promise<void>[] = []
    const openStream = (user: string) =>
      new Promise<void>((resolve, reject) => {
        streams.push(
          readEvents(
            `http://127.0.0.1:${service.port}/api/events`,
            tokens.get(user)!,
            ({ event, data, at }) => {
              if (event !== 'reminder') return
              latencies.push(at - Date.parse(JSON.parse(data).remind_at))
              fromSecond.push(at - second)
            },
            () => {
              open++
              resolve()
            },
          ).catch(reject),
        )
      })
    for (let i = 0; i < users.length; i += OPEN_AT_ONCE) await Promise.all(users.slice(i, i + OPEN_AT_ONCE).map(openStream))
    log(`${open} streams open`)

    // One reminder per user (its first open task's: a completed task's reminder does not fire) moved into one second, five seconds ahead, spread over its milliseconds.
    second = Math.ceil(Date.now() / 1000) * 1000 + 5000
    const moved = await db.sql`
      update reminder_firings f set fire_at = ${new Date(second).toISOString()}::timestamptz + (row_number * interval '1 millisecond')
      from (select f.user_id, min(f.task_id) as task_id, (row_number() over (order by f.user_id)) % 1000 as row_number
            from reminder_firings f join tasks t on t.user_id = f.user_id and t.id = f.task_id and not t.completed
            group by f.user_id) first
      where f.user_id = first.user_id and f.task_id = first.task_id`
    log(`${moved.count} reminders due in the second starting ${new Date(second).toISOString()}`)
    const deadline = second + 15_000
    while (latencies.length < moved.count && Date.now() < deadline) await Bun.sleep(50)

    const report = [
      `${pending} reminders pending (${USERS} users x ${TASKS} tasks), one instance, ${open} open streams (one per user)`,
      `idle scheduler: ${fmt(idlePercent, 2)} % of a core (service process CPU over ${IDLE_SECONDS} s, nothing due)`,
      `reminders received: ${latencies.length} of ${moved.count}`,
      '',
      table(
        ['delivered to its stream', 'p50 ms', 'p99 ms', 'max ms'],
        [
          ['after its remind_at', fmt(percentile(latencies, 50)), fmt(percentile(latencies, 99)), fmt(Math.max(...latencies))],
          ['after the second began', fmt(percentile(fromSecond, 50)), fmt(percentile(fromSecond, 99)), fmt(Math.max(...fromSecond))],
        ],
      ),
    ].join('\n')
    console.log(report)
    if (jsonPath) await writeFile(jsonPath, report)
  } finally {
    await stopProcess(service.child)
  }
}
