// No Docker engine runs on CI machines, so this repeats the Dockerfile's steps
// (frozen production install, copy src/ and drizzle/, `bun src/index.ts` with
// NODE_ENV=production) in a temporary folder, then checks that the result
// migrates, answers /health and serves an authenticated request.
// Usage: bun .ci/check-artifact.ts <postgres url>
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { $ } from 'bun'
import { SignJWT } from 'jose'

const databaseUrl = process.argv[2]
if (!databaseUrl) throw new Error('usage: bun .ci/check-artifact.ts <postgres url>')
const root = join(import.meta.dir, '..')
const work = await mkdtemp(join(tmpdir(), 'todo-artifact-'))

function check(condition: boolean, what: string) {
  if (!condition) throw new Error(`artifact check failed: ${what}`)
  console.log(`ok: ${what}`)
}

try {
  for (const file of ['package.json', 'bun.lock', 'tsconfig.json']) await cp(join(root, file), join(work, file))
  await cp(join(root, 'patches'), join(work, 'patches'), { recursive: true })
  await $`bun install --frozen-lockfile --production --ignore-scripts`.cwd(work).quiet()
  await cp(join(root, 'src'), join(work, 'src'), { recursive: true })
  await cp(join(root, 'drizzle'), join(work, 'drizzle'), { recursive: true })

  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  // Below Linux's ephemeral range (32768-60999): the load test just before leaves
  // thousands of its client ports there, and one of them made this listen fail.
  const port = 20000 + Math.floor(Math.random() * 12000)
  const service = Bun.spawn(['bun', 'src/index.ts'], {
    cwd: work,
    env: { PATH: process.env.PATH!, NODE_ENV: 'production', PORT: String(port), DATABASE_URL: databaseUrl, BETTER_AUTH_SECRET: secret },
    stdout: 'inherit',
    stderr: 'inherit',
  })
  try {
    const base = `http://127.0.0.1:${port}`
    let health: Response | undefined
    for (let attempt = 0; attempt < 60 && service.exitCode === null; attempt++) {
      health = await fetch(`${base}/health`).catch(() => undefined)
      if (health) break
      await Bun.sleep(500)
    }
    check(health?.status === 200, '/health answers 200')
    check(JSON.stringify(await health!.json()) === '{"status":"ok","database":"ok"}', '/health reports the database ok')

    const key = new TextEncoder().encode(secret)
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`artifact-${crypto.randomUUID()}`)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key)
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const created = await fetch(`${base}/api/tasks`, { method: 'POST', headers, body: JSON.stringify({ title: 'artifact check' }) })
    check(created.status === 201, 'an authenticated create answers 201')
    const list = await fetch(`${base}/api/tasks`, { headers })
    check(list.status === 200 && (await list.json()).length === 1, 'the task is listed for its owner')
    check((await fetch(`${base}/api/tasks`)).status === 401, 'no token is 401')

    service.kill('SIGTERM')
    check((await service.exited) === 0, 'SIGTERM exits 0')
  } finally {
    service.kill('SIGKILL')
  }
} finally {
  await rm(work, { recursive: true, force: true })
}
