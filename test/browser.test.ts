// The service as its frontend meets it: a page on another origin, in headless
// Debian Chromium, calling the API with fetch and a bearer header through real
// CORS preflights, organising a list that survives a reload; and the docs UI
// rendering with the network closed.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { createLogger } from '../src/http/logger'
import { frontendServer, hasChromium, launchChromium, listeningApi, onFailureScreenshot, pageServer } from './chromium'
import { randomEmail } from './support'

// The frontend: one page whose script drives the API the way a Next.js client would.
const PAGE = `<!doctype html><html><body><script>
async function call(api, method, path, token, body) {
  const headers = {}
  if (token) headers.authorization = 'Bearer ' + token
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : null, etag: response.headers.get('etag'), total: response.headers.get('x-total-count') }
}
window.journey = async (api, email) => {
  const steps = {}
  steps.signup = await call(api, 'POST', '/api/auth/signup', null, { email, password: 'browser password 1' })
  const token = steps.signup.body.token
  steps.create = await call(api, 'POST', '/api/tasks', token, { title: 'From the browser', tags: ['ui'] })
  const id = steps.create.body.id
  steps.list = await call(api, 'GET', '/api/tasks', token)
  steps.toggle = await call(api, 'PATCH', '/api/tasks/' + id + '/complete', token)
  steps.remove = await call(api, 'DELETE', '/api/tasks/' + id, token)
  steps.after = await call(api, 'GET', '/api/tasks', token)
  return steps
}
window.organise = async (api, email) => {
  const token = (await call(api, 'POST', '/api/auth/signup', null, { email, password: 'browser password 1' })).body.token
  const list = (await call(api, 'POST', '/api/lists', token, { name: 'Groceries' })).body
  const milk = (await call(api, 'POST', '/api/tasks', token, { title: 'Milk', list_id: list.id })).body
  const bread = (await call(api, 'POST', '/api/tasks', token, { title: 'Bread', list_id: list.id })).body
  const oats = await call(api, 'POST', '/api/tasks', token, { title: 'Oat milk', parent_id: milk.id })
  const moved = await call(api, 'POST', '/api/tasks/' + bread.id + '/move', token, { before_id: milk.id })
  localStorage.setItem('session', JSON.stringify({ token, list: list.id, milk: milk.id }))
  return { list: list.id, subtask: oats.status, moved: moved.status }
}
window.afterReload = async (api) => {
  const { token, list, milk } = JSON.parse(localStorage.getItem('session'))
  const top = await call(api, 'GET', '/api/tasks?list_id=' + list + '&parent_id=none&sort=position', token)
  const under = await call(api, 'GET', '/api/tasks?parent_id=' + milk + '&sort=position', token)
  const lists = await call(api, 'GET', '/api/lists', token)
  return { top: top.body.map((t) => t.title), under: under.body.map((t) => t.title), lists: lists.body.map((l) => [l.name, l.open_count]) }
}
window.tryFetch = async (api) => {
  try { return 'answered ' + (await fetch(api + '/api/tasks', { headers: { authorization: 'Bearer x' } })).status }
  catch (error) { return 'blocked: ' + error.name }
}
</script></body></html>`

describe.if(hasChromium)('in a real browser', () => {
  const frontend = frontendServer(PAGE)
  const frontendOrigin = `http://localhost:${frontend.port}`
  const stranger = pageServer(PAGE, '127.0.0.1', 0) // an origin CORS does not allow
  const requests: { method: string; route: string; status: number }[] = []
  let api: string
  let stopApi: () => void
  let browser: Browser

  beforeAll(async () => {
    const logger = createLogger('info', (line) => {
      requests.push(JSON.parse(line))
    })
    const service = await listeningApi(frontendOrigin, { logger })
    api = service.url
    stopApi = service.stop
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    stopApi?.()
    frontend.stop(true)
    stranger.stop(true)
  })

  test('signup, create, list, toggle and delete from another origin, through CORS preflights', async () => {
    const page = await browser.newPage()
    await page.goto(`${frontendOrigin}/`)
    const email = randomEmail('browser')
    const steps = await onFailureScreenshot(page, 'journey', () =>
      page.evaluate(([base, address]) => (globalThis as any).journey(base, address), [api, email] as const),
    )
    expect(steps.signup.status).toBe(201)
    expect(steps.create.status).toBe(201)
    expect(steps.create.etag).toMatch(/^"\d+\.\d+"$/) // exposed to the page by CORS
    expect(steps.list).toMatchObject({ status: 200, total: '1', body: [{ title: 'From the browser', tags: ['ui'] }] })
    expect(steps.toggle).toMatchObject({ status: 200, body: { completed: true } })
    expect(steps.remove.status).toBe(204)
    expect(steps.after).toMatchObject({ status: 200, body: [], total: '0' })
    // The bearer header and JSON bodies make every cross-origin call preflighted.
    const preflights = requests.filter((r) => r.method === 'OPTIONS')
    expect(preflights.length).toBeGreaterThanOrEqual(3)
    expect(preflights.every((r) => r.status === 204)).toBe(true)
    await page.close()
  })

  test('a list with a task, a subtask and a reordering made from the page reads back the same after a reload', async () => {
    const page = await browser.newPage()
    await page.goto(`${frontendOrigin}/`)
    const made = await onFailureScreenshot(page, 'organise', () =>
      page.evaluate(([base, address]) => (globalThis as any).organise(base, address), [api, randomEmail('browser')] as const),
    )
    expect(made).toMatchObject({ subtask: 201, moved: 200 })
    await page.reload()
    const after = await onFailureScreenshot(page, 'reloaded', () => page.evaluate((base) => (globalThis as any).afterReload(base), api))
    expect(after).toEqual({
      top: ['Bread', 'Milk'],
      under: ['Oat milk'],
      lists: [
        ['Inbox', 0],
        ['Groceries', 3],
      ],
    })
    await page.close()
  })

  test('a page from an origin that is not allowed is blocked by the browser', async () => {
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${stranger.port}/`)
    const outcome = await page.evaluate((base) => (globalThis as any).tryFetch(base), api)
    expect(outcome).toBe('blocked: TypeError')
    await page.close()
  })

  test('/docs renders the task routes with nothing but this service reachable', async () => {
    const page = await browser.newPage()
    const outside: string[] = []
    await page.route('**/*', (route) => {
      const { hostname } = new URL(route.request().url())
      if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue()
      outside.push(route.request().url())
      return route.abort()
    })
    await onFailureScreenshot(page, 'docs', async () => {
      await page.goto(`${api}/docs`)
      await page.waitForSelector('.opblock-summary-path', { timeout: 15_000 })
    })
    const paths = await page.$$eval('.opblock-summary-path', (nodes) => nodes.map((node) => node.textContent?.replace(/\u200b/g, '')))
    expect(paths).toEqual(expect.arrayContaining(['/api/tasks', '/api/tasks/{id}', '/api/tasks/{id}/complete', '/api/auth/signup']))
    expect(outside).toEqual([])
    await page.close()
  }, 30_000)
})
