// Streams mode: many open event streams on one instance, and how fast a
// committed write reaches them. Two instances of the service share one
// PostgreSQL database: 1,000 users hold 10 streams each on instance A and one
// each on instance B; writes go to B at a steady rate, so each reaches A
// through LISTEN/NOTIFY and B directly. Latency is from the task's created_at
// (the database's clock when its transaction ran) to the event's arrival.

import { writeFile } from 'node:fs/promises'
import { createDatabase, seed } from './database'
import { procStatusKb } from './proc'
import { stopProcess } from './processes'
import { environment, fmt, log, table } from './report'
import { mintTokens, startServer } from './servers'
import { percentile, readEvents } from './sse'

// STREAMS_USERS, STREAMS_RATE and STREAMS_SECONDS shrink a run to check the harness quickly.
const USERS = Number(process.env.STREAMS_USERS ?? 1000)
const STREAMS_ON_A = 10
const WRITES_PER_SECOND = Number(process.env.STREAMS_RATE ?? 100)
const WRITE_SECONDS = Number(process.env.STREAMS_SECONDS ?? 20)
const OPEN_AT_ONCE = 200

type Arrival = { instance: 'A' | 'B'; latencyMs: number }

/** Reads one event stream, reporting each task it announces as created: its created_at against its arrival. */
function follow(url: string, token: string, instance: 'A' | 'B', arrivals: Arrival[], opened: () => void): Promise<void> {
  return readEvents(
    url,
    token,
    ({ event, data, at }) => {
      if (event !== 'change') return
      const change = JSON.parse(data)
      if (change.type === 'task' && change.op === 'upsert') arrivals.push({ instance, latencyMs: at - Date.parse(change.data.created_at) })
    },
    opened,
  )
}

export async function streamsMode(_workDir: string, jsonPath?: string): Promise<void> {
  // Bun's fetch runs at most 256 requests at once unless told more when it starts; an open stream is one.
  const needed = USERS * (STREAMS_ON_A + 1) + 100
  if (Number(process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? 256) < needed)
    throw new Error(`--streams opens ${needed - 100} streams: run it as BUN_CONFIG_MAX_HTTP_REQUESTS=${needed} bun run bench -- --streams`)
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const db = await createDatabase('todo_bench_streams')
  log(`database ${db.name}; ${await environment(db.sql)}`)
  // The first start applies the migrations.
  const [a, b] = [await startServer('service', db.url, secret), await startServer('service', db.url, secret)]
  try {
    await seed(db.sql, { prefix: 's-', from: 1, to: USERS }, { lists: 1, tasks: 5, listsHoldingTasks: 1 })
    await db.sql`vacuum analyze`
    const users = Array.from({ length: USERS }, (_, i) => `s-${i + 1}`)
    const tokens = await mintTokens(secret, users)
    const rssBefore = procStatusKb(a.pid, 'VmRSS') / 1024
    const arrivals: Arrival[] = []
    const streams: Promise<void>[] = []
    let open = 0
    const openStream = (port: number, user: string, instance: 'A' | 'B') =>
      new Promise<void>((resolve, reject) => {
        streams.push(
          follow(`http://127.0.0.1:${port}/api/events`, tokens.get(user)!, instance, arrivals, () => {
            open++
            resolve()
          }).catch(reject),
        )
      })
    const opening = performance.now()
    const wanted = users.flatMap((user) => [
      ...Array.from({ length: STREAMS_ON_A }, () => [a.port, user, 'A'] as const),
      [b.port, user, 'B'] as const,
    ])
    for (let i = 0; i < wanted.length; i += OPEN_AT_ONCE)
      await Promise.all(wanted.slice(i, i + OPEN_AT_ONCE).map(([port, user, instance]) => openStream(port, user, instance)))
    log(`${open} streams open (${USERS * STREAMS_ON_A} on A) in ${fmt(performance.now() - opening)} ms`)
    const rssOpen = procStatusKb(a.pid, 'VmRSS') / 1024

    // Writes at a steady rate to B, each for a random user.
    const writes = WRITES_PER_SECOND * WRITE_SECONDS
    const writeLatencies: number[] = []
    const started = performance.now()
    const sent: Promise<void>[] = []
    for (let i = 0; i < writes; i++) {
      const due = started + (i * 1000) / WRITES_PER_SECOND
      const wait = due - performance.now()
      if (wait > 0) await Bun.sleep(wait)
      const user = users[Math.floor(Math.random() * USERS)]!
      const sentAt = performance.now()
      sent.push(
        fetch(`http://127.0.0.1:${b.port}/api/tasks`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens.get(user)}`, 'content-type': 'application/json' },
          body: JSON.stringify({ title: `stream bench ${i}` }),
        }).then(async (response) => {
          await response.arrayBuffer()
          if (response.status !== 201) throw new Error(`write answered ${response.status}`)
          writeLatencies.push(performance.now() - sentAt)
        }),
      )
    }
    await Promise.all(sent)
    // Every write announced on 10 streams of A and 1 of B: wait for them, within a bound.
    const expected = writes * (STREAMS_ON_A + 1)
    const deadline = performance.now() + 10_000
    while (arrivals.length < expected && performance.now() < deadline) await Bun.sleep(50)
    const rssAfter = procStatusKb(a.pid, 'VmRSS') / 1024

    const of = (instance: 'A' | 'B') => arrivals.filter((arrival) => arrival.instance === instance).map((arrival) => arrival.latencyMs)
    const rows = [
      ['A (through NOTIFY)', String(of('A').length), fmt(percentile(of('A'), 50)), fmt(percentile(of('A'), 99)), fmt(Math.max(...of('A')))],
      ['B (its own write)', String(of('B').length), fmt(percentile(of('B'), 50)), fmt(percentile(of('B'), 99)), fmt(Math.max(...of('B')))],
    ]
    const report = [
      `${open} open streams (${USERS * STREAMS_ON_A} on A, ${USERS} on B), ${writes} writes at ${WRITES_PER_SECOND}/s to B`,
      `A's RSS: ${fmt(rssBefore)} MiB before, ${fmt(rssOpen)} MiB with the streams open, ${fmt(rssAfter)} MiB after the writes`,
      `write latency p50 ${fmt(percentile(writeLatencies, 50), 1)} ms, p99 ${fmt(percentile(writeLatencies, 99), 1)} ms`,
      `events received: ${arrivals.length} of ${expected}`,
      '',
      table(['commit to delivery', 'events', 'p50 ms', 'p99 ms', 'max ms'], rows),
    ].join('\n')
    console.log(report)
    if (jsonPath) await writeFile(jsonPath, report)
  } finally {
    await stopProcess(a.child)
    await stopProcess(b.child)
  }
}
