import postgres from 'postgres'
import { SignJWT } from 'jose'
const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { max: 1, onnotice: () => {} })
const name = `todo_cmp_${Date.now()}`
await admin.unsafe(`create database ${name}`)
const url = `postgres://postgres@127.0.0.1:5432/${name}`
const secret = 'x'.repeat(40)
const procs: any[] = []
const start = (script: string, port: number) => {
  const p = Bun.spawn(['bun', '--no-env-file', script], { cwd: '/work/main', env: { PATH: process.env.PATH!, NODE_ENV: 'production', PORT: String(port), DATABASE_URL: url, BETTER_AUTH_SECRET: secret, LOG_LEVEL: 'error' }, stdout: 'ignore', stderr: 'inherit' })
  procs.push(p); return p
}
const wait = async (port: number) => { for (let i = 0; i < 200; i++) { try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return } catch {} await Bun.sleep(50) } throw new Error('no health') }
try {
  start('src/index.ts', 18601); await wait(18601)
  start('bench/reference.ts', 18602); await wait(18602)
  const key = new TextEncoder().encode(secret)
  const tok = (sub: string) => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime('1h').sign(key)
  const a = await tok('alice'), b = await tok('bob')
  const show = async (label: string, port: number, method: string, path: string, token?: string, body?: string) => {
    const h: Record<string,string> = {}
    if (token) h.authorization = `Bearer ${token}`
    if (body !== undefined) h['content-type'] = 'application/json'
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: h, body })
    const keep = ['content-type','etag','location','x-total-count','link','www-authenticate']
    const hs = keep.filter(k => r.headers.get(k)).map(k => `${k}: ${r.headers.get(k)}`).join('; ')
    console.log(`${label} ${method} ${path} -> ${r.status} [${hs}] ${(await r.text()).slice(0, 300)}`)
  }
  for (const [label, port] of [['SVC', 18601], ['REF', 18602]] as const) {
    console.log('-----', label)
    await show(label, port, 'POST', '/api/tasks', a, JSON.stringify({ title: '  hello ' }))
    await show(label, port, 'POST', '/api/tasks', a, JSON.stringify({ title: 'second' }))
    await show(label, port, 'POST', '/api/tasks', a, JSON.stringify({ title: '' }))
    await show(label, port, 'POST', '/api/tasks', a, JSON.stringify({ title: 'x', foo: 1 }))
    await show(label, port, 'GET', '/api/tasks?limit=1', a)
    await show(label, port, 'GET', '/api/tasks', a)
    await show(label, port, 'GET', '/api/tasks?limit=0', a)
    await show(label, port, 'GET', '/api/tasks/1', a)
    await show(label, port, 'GET', '/api/tasks/1', b)
    await show(label, port, 'GET', '/api/tasks/99999', a)
    await show(label, port, 'GET', '/api/tasks/abc', a)
    await show(label, port, 'PATCH', '/api/tasks/1', a, JSON.stringify({ title: 'renamed' }))
    await show(label, port, 'PATCH', '/api/tasks/1', a, JSON.stringify({ title: 'renamed' }))
    await show(label, port, 'PATCH', '/api/tasks/1/complete', a)
    await show(label, port, 'PATCH', '/api/tasks/1/complete', a, JSON.stringify({ completed: true }))
    await show(label, port, 'GET', '/api/tasks', undefined)
    await show(label, port, 'GET', '/api/tasks', a.slice(0, -3) + 'AAA')
  }
} finally {
  for (const p of procs) p.kill(); await Promise.all(procs.map(p => p.exited))
  await admin.unsafe(`drop database ${name} with (force)`); await admin.end()
}
