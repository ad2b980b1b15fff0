// Load without failure, against a real listening service on PostgreSQL:
// 1000 connections for 30 s on list and on create (wrk), then 60 concurrent
// sign-ins. It checks correctness under load, not speed (bench/ measures
// speed): no errors but deliberate fast 503s, database connections never above
// the pool, memory flat afterwards, /health prompt during a sign-in storm.
// Usage: TEST_DATABASE_URL=postgres://... bun test/load/load.ts   (needs wrk)
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { $ } from 'bun'
import { SignJWT } from 'jose'
import postgres from 'postgres'

const DATABASE_URL = process.env.TEST_DATABASE_URL
const SECONDS = Number(process.env.LOAD_SECONDS ?? 30)
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 1000)
const POOL = 10
const USERS = 2000

if (!DATABASE_URL) throw new Error('set TEST_DATABASE_URL to a PostgreSQL server')
if ((await $`which wrk`.nothrow().quiet()).exitCode !== 0) throw new Error('wrk is missing (apt-get install wrk)')

const failures: string[] = []
function check(ok: boolean, what: string) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failures.push(what)
}

const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} })
const name = `todo_load_${crypto.randomUUID().replaceAll('-', '')}`
await admin.unsafe(`create database ${name}`)
const url = new URL(DATABASE_URL)
url.pathname = `/${name}`
const watcher = postgres(url.toString(), { max: 1, onnotice: () => {} })
const work = await mkdtemp(join(tmpdir(), 'todo-load-'))
const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
// Below Linux's ephemeral range (32768-60999), where clients' own ports may be in use.
const port = 20000 + Math.floor(Math.random() * 12000)
const base = `http://127.0.0.1:${port}`

const service = Bun.spawn(['bun', '--no-env-file', 'src/index.ts'], {
  cwd: join(import.meta.dir, '../..'),
  env: {
    PATH: process.env.PATH!,
    NODE_ENV: 'production',
    PORT: String(port),
    DATABASE_URL: url.toString(),
    BETTER_AUTH_SECRET: secret,
    DATABASE_POOL_MAX: String(POOL),
    LOG_LEVEL: 'error',
    TRUST_PROXY: '1',
  },
  // Deliberate 503s are logged as errors; keep them out of the report.
  stdout: 'ignore',
  stderr: 'inherit',
})

function rssMb(): number {
  const status = require('node:fs').readFileSync(`/proc/${service.pid}/status`, 'utf8') as string
  return Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024
}

let peakConnections = 0
let watching = true
async function watchConnections() {
  while (watching) {
    const [row] = await watcher`select count(*)::int as n from pg_stat_activity where datname = ${name} and application_name = 'todo-api'`
    peakConnections = Math.max(peakConnections, row!.n)
    await Bun.sleep(200)
  }
}

async function wrk(method: 'GET' | 'POST', seconds: number) {
  const output = await $`wrk -t2 -c${CONNECTIONS} -d${seconds}s --timeout 10s -s ${join(import.meta.dir, 'wrk.lua')} ${base}`
    .env({ ...process.env, METHOD: method, TOKENS_FILE: join(work, 'tokens') })
    .nothrow()
    .text()
  const line = output.split('\n').find((l) => l.startsWith('RESULT '))
  if (!line) throw new Error(`wrk printed no result:\n${output}`)
  return JSON.parse(line.slice(7)) as {
    requests: number
    duration_s: number
    statuses: Record<string, number>
    errors: Record<string, number>
    p50_ms: number
    p99_ms: number
    max_ms: number
  }
}

try {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (
      await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break
    await Bun.sleep(200)
  }
  const key = new TextEncoder().encode(secret)
  const tokens = await Promise.all(
    Array.from({ length: USERS }, (_, i) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`load-${i}-${crypto.randomUUID()}`)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key),
    ),
  )
  await writeFile(join(work, 'tokens'), `${tokens.join('\n')}\n`)
  const watching$ = watchConnections()

  await wrk('GET', 3) // warm-up
  const rssStart = rssMb()
  for (const method of ['GET', 'POST'] as const) {
    const result = await wrk(method, SECONDS)
    const { 200: ok200 = 0, 201: ok201 = 0, 503: shed = 0, ...other } = result.statuses
    const socketErrors = Object.values(result.errors).reduce((a, b) => a + b, 0) - (result.errors.status ?? 0)
    console.log(
      `${method} /api/tasks, ${CONNECTIONS} connections, ${result.duration_s.toFixed(0)} s: ${result.requests} requests ` +
        `(${(result.requests / result.duration_s).toFixed(0)}/s), 2xx ${ok200 + ok201}, 503 ${shed}, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms`,
    )
    check(ok200 + ok201 > 0, `${method}: requests succeed`)
    check(Object.keys(other).length === 0, `${method}: no status but 2xx and 503 (${JSON.stringify(other)})`)
    check(socketErrors === 0, `${method}: no socket errors or timeouts (${JSON.stringify(result.errors)})`)
  }
  const rssAfter = rssMb()
  const again = await wrk('GET', 10)
  const rssAgain = rssMb()
  console.log(
    `RSS: ${rssStart.toFixed(0)} MB after warm-up, ${rssAfter.toFixed(0)} MB after both runs, ${rssAgain.toFixed(0)} MB after 10 s more`,
  )
  check(again.requests > 0 && rssAgain <= rssAfter * 1.25 + 10, 'memory flat: another run does not grow RSS')
  watching = false
  await watching$
  check(peakConnections <= POOL, `database connections never above the pool (${peakConnections} <= ${POOL})`)

  // A sign-in storm: 60 at once from 60 addresses, then /health while it runs.
  const email = `storm-${crypto.randomUUID()}@example.com`
  const password = 'storm password 1'
  const signup = await fetch(`${base}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.9.9.9' },
    body: JSON.stringify({ email, password }),
  })
  check(signup.status === 201, 'storm account created')
  const storm = Array.from({ length: 60 }, (_, i) => {
    const started = performance.now()
    return fetch(`${base}/api/auth/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.8.${i >> 8}.${i & 255}` },
      body: JSON.stringify({ email, password }),
    }).then(
      async (r) => ({ status: r.status, ms: performance.now() - started, code: ((await r.json()) as { code?: string }).code }),
      (error: Error) => ({ status: 0, ms: performance.now() - started, code: error.message }),
    )
  })
  // While the hashes run (the first answer is back, the rest queue for the
  // hashing slots), /health must not wait behind them.
  await Promise.race(storm)
  const healthTimes: number[] = []
  let healthOk = true
  for (let probe = 0; probe < 5; probe++) {
    const started = performance.now()
    healthOk &&= (await fetch(`${base}/health`)).status === 200
    healthTimes.push(performance.now() - started)
  }
  // The first probe can meet the storm's own burst of requests and account
  // lookups on a busy 2-core machine (81 ms seen once, the next four under
  // 2 ms), so it gets a looser bound, still under one hash (~250 ms of a
  // core). Starved behind the hashes, the later probes would wait too.
  const [firstMs, ...laterMs] = healthTimes as [number, ...number[]]
  const laterMaxMs = Math.max(...laterMs)
  const answers = await Promise.all(storm)
  const byStatus = Object.groupBy(answers, (a) => String(a.status))
  const shed = byStatus['503'] ?? []
  console.log(
    `60 concurrent sign-ins: ${Object.entries(byStatus)
      .map(([s, a]) => `${s} x${a!.length}`)
      .join(', ')}; ` +
      `slowest 503 ${Math.max(0, ...shed.map((a) => a.ms)).toFixed(0)} ms; /health ${healthTimes.map((t) => t.toFixed(1)).join(', ')} ms`,
  )
  check(
    answers.every((a) => [200, 429, 503].includes(a.status)),
    'every sign-in answered 200, 429 or 503, no reset',
  )
  check((byStatus['200'] ?? []).length > 0, 'some sign-ins succeed')
  check(
    shed.every((a) => a.code === 'server_busy' && a.ms < 1000),
    'the excess is shed fast with 503 server_busy',
  )
  check(
    healthOk && firstMs < 200 && laterMaxMs < 50,
    `/health answers during the storm: the first probe under 200 ms (${firstMs.toFixed(1)}), the next four under 50 ms (slowest ${laterMaxMs.toFixed(1)})`,
  )
} finally {
  watching = false
  service.kill('SIGTERM')
  const code = await service.exited
  check(code === 0, `service exits 0 on SIGTERM after the load (${code})`)
  await watcher.end()
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
  await rm(work, { recursive: true, force: true })
}

console.log(failures.length ? `\n${failures.length} load checks failed` : '\nall load checks passed')
process.exit(failures.length ? 1 : 0)
