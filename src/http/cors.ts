import { cors } from '@elysiajs/cors'
import { Elysia } from 'elysia'

const PREFLIGHT_MAX_AGE_SECONDS = 600
const ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS'

/**
 * The contract's CORS policy, spelled out (the plugin's defaults mirror
 * request headers into the allow and expose lists). The plugin decides the
 * origin and adds credentials, allowed and exposed headers to every answer;
 * the allowed methods matter only to a preflight, so only the preflight
 * says them (the plugin would join the list into a header on every answer).
 * Preflights are answered by a route of ours rather than the plugin's early
 * return, so they get a request id and a log line like every other request.
 */
export function corsPolicy(origins: string[]) {
  const preflight = ({ set }: { set: { status?: number | string; headers: Record<string, unknown> } }) => {
    set.status = 204
    set.headers['access-control-allow-methods'] = ALLOWED_METHODS
    set.headers['access-control-max-age'] = String(PREFLIGHT_MAX_AGE_SECONDS)
  }
  return new Elysia({ name: 'cors-policy' })
    .use(
      cors({
        origin: origins,
        credentials: true,
        methods: false,
        allowedHeaders: ['Authorization', 'Content-Type', 'If-Match'],
        exposeHeaders: ['ETag', 'X-Total-Count', 'Link', 'Location'],
        preflight: false,
      }),
    )
    .options('/', preflight, { detail: { hide: true } })
    .options('/*', preflight, { detail: { hide: true } })
}
