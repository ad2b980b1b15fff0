import { Elysia, t } from 'elysia'
import type { DatabaseHandle } from '../db/client'

export const HEALTH_TIMEOUT_MS = 2000

async function answersWithin(ping: () => Promise<void>, ms: number): Promise<boolean> {
  let timer: Timer | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([ping().then(() => true as const), late])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

const Health = t.Object({ status: t.String(), database: t.String() })

export function healthRoutes(database: Pick<DatabaseHandle, 'ping'>, version: string) {
  return new Elysia({ name: 'health' })
    .get('/', () => ({ name: 'todo-api', version, docs: '/docs' }), {
      response: t.Object({ name: t.String(), version: t.String(), docs: t.String() }),
      detail: { summary: 'Service information', tags: ['service'], security: [] },
    })
    .get(
      '/health',
      async ({ set }) => {
        if (await answersWithin(database.ping, HEALTH_TIMEOUT_MS)) return { status: 'ok', database: 'ok' }
        set.status = 503
        set.headers['retry-after'] = '5'
        return { status: 'unavailable', database: 'unavailable' }
      },
      {
        response: { 200: Health, 503: Health },
        detail: {
          summary: 'Liveness and database reachability (503 when the database does not answer in 2 s)',
          tags: ['service'],
          security: [],
        },
      },
    )
}
