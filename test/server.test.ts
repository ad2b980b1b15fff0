// Behaviour that only a real listening server or a real process shows:
// Bun's body limit, SIGTERM draining, start-up configuration and restarts.
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Subprocess, spawn } from 'bun'
import { rawConnection } from './sockets'
import { app, database, secret, TEST_DATABASE_PREPARE, TEST_DATABASE_URL, tokenFor, userId } from './support'

const server = app.listen({ port: 0, hostname: '127.0.0.1' })
const base = `http://127.0.0.1:${server.server!.port}`
afterAll(() => server.stop(true))

describe('request body limit over HTTP', () => {
  // Both under Bun's own limit (json-body.ts, SERVER_BODY_LIMIT), so this service answers.
  for (const size of [100 * 1024, 200 * 1024]) {
    test(`a ${size / 1024} KiB body is 413 JSON and stores nothing`, async () => {
      const sub = userId('big')
      const token = await tokenFor(sub)
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
      const body = JSON.stringify({ title: 'x', description: 'y'.repeat(size) })
      const reply = await fetch(`${base}/api/tasks`, { method: 'POST', headers, body })
      expect(reply.status).toBe(413)
      expect(await reply.json()).toEqual({ detail: 'Request body is larger than 64 KiB', code: 'payload_too_large' })
      const list = await fetch(`${base}/api/tasks`, { headers })
      expect(await list.json()).toEqual([])
    })
  }
})

test("a body declared past Bun's own limit (20 GB) is refused by Bun before any code runs: 413, connection closed", async () => {
  const connection = await rawConnection(server.server!.port!)
  connection.write(
    'POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 20000000000\r\n\r\n{"title":',
  )
  // Until the server closes: Bun's own answer has no body, the price of its limit standing guard (json-body.ts).
  const response = await connection.until()
  connection.end()
  expect(response).toStartWith('HTTP/1.1 413')
  expect(response.toLowerCase()).toContain('connection: close')
})

interface Started {
  process: Subprocess<'ignore', 'pipe', 'pipe'>
  port: number
  /** Resolves with the first log line whose message matches. */
  waitFor(message: RegExp): Promise<Record<string, unknown>>
}

async function startService(env: Record<string, string>): Promise<Started> {
  const child = spawn(['bun', '--no-env-file', 'src/index.ts'], {
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', PORT: '0', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  })
  const lines: Record<string, unknown>[] = []
  const waiters: { pattern: RegExp; resolve: (line: Record<string, unknown>) => void }[] = []
  void (async () => {
    let buffered = ''
    for await (const chunk of child.stdout) {
      buffered += new TextDecoder().decode(chunk)
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      for (const part of parts) {
        const line = JSON.parse(part) as Record<string, unknown>
        lines.push(line)
        for (const waiter of waiters.filter((w) => w.pattern.test(String(line.message)))) waiter.resolve(line)
      }
    }
  })()
  const waitFor = (pattern: RegExp) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = lines.find((line) => pattern.test(String(line.message)))
      if (seen) return resolve(seen)
      waiters.push({ pattern, resolve })
      void child.exited.then((code) => reject(new Error(`service exited ${code} before logging ${pattern}`)))
    })
  const listening = await waitFor(/^listening/)
  return { process: child, port: Number(listening.port), waitFor }
}

const databaseEnv: Record<string, string> = TEST_DATABASE_URL
  ? { DATABASE_URL: TEST_DATABASE_URL, DATABASE_PREPARE: String(TEST_DATABASE_PREPARE) }
  : { DATA_DIR: 'memory://' }

describe('SIGTERM', () => {
  test('finishes the request in flight, refuses new connections, exits 0', async () => {
    const service = await startService({ ...databaseEnv, BETTER_AUTH_SECRET: secret, LOG_LEVEL: 'debug' })
    const token = await tokenFor(userId('drain'))
    const body = JSON.stringify({ title: 'sent before SIGTERM, finished after' })
    const connection = await rawConnection(service.port)
    // Headers and half the body: the request is in flight when SIGTERM arrives.
    connection.write(
      `POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    )
    await service.waitFor(/^request received/)
    service.process.kill('SIGTERM')
    await service.waitFor(/draining/)
    await expect(fetch(`http://127.0.0.1:${service.port}/health`)).rejects.toThrow()
    connection.write(body.slice(10))
    const response = await connection.until((received) => received.includes('\r\n\r\n') && received.endsWith('}'))
    connection.end()
    expect(response).toStartWith('HTTP/1.1 201')
    expect(await service.process.exited).toBe(0)
  }, 30_000)

  test('ends open event streams at once, so clients reconnect elsewhere, and exits 0', async () => {
    const service = await startService({ ...databaseEnv, BETTER_AUTH_SECRET: secret })
    const token = await tokenFor(userId('streaming'))
    const stream = await fetch(`http://127.0.0.1:${service.port}/api/events`, { headers: { authorization: `Bearer ${token}` } })
    expect(stream.status).toBe(200)
    const reader = stream.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toContain(': open')
    const signalled = performance.now()
    service.process.kill('SIGTERM')
    // Read to the end: the stream ends instead of holding the drain for its whole grace period.
    while (!(await reader.read()).done) {}
    expect(performance.now() - signalled).toBeLessThan(5000)
    expect(await service.process.exited).toBe(0)
  }, 30_000)
})

/** Starts the service expecting it to refuse: its exit code and what it printed on stderr. */
async function refusedStart(env: Record<string, string>) {
  const child = spawn(['bun', '--no-env-file', 'src/index.ts'], {
    env: { PATH: process.env.PATH!, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  return { code: await child.exited, stderr: await new Response(child.stderr).text() }
}

describe('start-up', () => {
  test('NODE_ENV=production without a secret stops at once with a line naming the variable', async () => {
    const { code, stderr } = await refusedStart({ NODE_ENV: 'production', DATA_DIR: 'memory://' })
    expect(code).toBe(1)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toContain('BETTER_AUTH_SECRET')
  })

  test('invalid configuration names the variable and never echoes a database password', async () => {
    const { code, stderr } = await refusedStart({ PORT: 'eighty', DATABASE_URL: 'postgres://u:hunter2-secret@db/x' })
    expect(code).toBe(1)
    expect(stderr).toContain('PORT')
    expect(stderr).not.toContain('hunter2')
  })

  test('embedded data and the development secret survive a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'todo-data-'))
    try {
      const first = await startService({ DATA_DIR: dataDir })
      const kept = (await readFile(join(dataDir, 'jwt-secret'), 'utf8')).trim()
      expect(kept.length).toBeGreaterThanOrEqual(32)
      const token = await tokenFor(userId('restart'), {}, kept)
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
      const created = await fetch(`http://127.0.0.1:${first.port}/api/tasks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ title: 'still here' }),
      })
      expect(created.status).toBe(201)
      first.process.kill('SIGTERM')
      expect(await first.process.exited).toBe(0)

      const second = await startService({ DATA_DIR: dataDir })
      const list = await fetch(`http://127.0.0.1:${second.port}/api/tasks`, { headers })
      expect(list.status).toBe(200)
      expect(((await list.json()) as { title: string }[]).map((task) => task.title)).toEqual(['still here'])
      second.process.kill('SIGTERM')
      expect(await second.process.exited).toBe(0)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 60_000)
})

test.if(database.kind === 'postgres')(
  'instances starting together on an empty database migrate once and both serve',
  async () => {
    // Runs against a database of its own, created and dropped here.
    const { default: postgres } = await import('postgres')
    const admin = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} })
    const name = `todo_migrate_${crypto.randomUUID().replaceAll('-', '')}`
    await admin.unsafe(`create database ${name}`)
    try {
      const url = new URL(TEST_DATABASE_URL!)
      url.pathname = `/${name}`
      const env = { DATABASE_URL: url.toString(), DATABASE_PREPARE: String(TEST_DATABASE_PREPARE), BETTER_AUTH_SECRET: secret }
      const services = await Promise.all([startService(env), startService(env), startService(env)])
      const token = await tokenFor(userId('multi'))
      for (const service of services) {
        const reply = await fetch(`http://127.0.0.1:${service.port}/api/tasks`, { headers: { authorization: `Bearer ${token}` } })
        expect(reply.status).toBe(200)
      }
      const migrated = postgres(url.toString(), { max: 1 })
      const [row] = await migrated`select count(*)::int as count from drizzle.__drizzle_migrations`
      const journal = JSON.parse(await readFile('drizzle/meta/_journal.json', 'utf8'))
      expect(row?.count).toBe(journal.entries.length)
      await migrated.end()
      for (const service of services) {
        service.process.kill('SIGTERM')
        expect(await service.process.exited).toBe(0)
      }
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    }
  },
  60_000,
)
