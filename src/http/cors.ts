import { cors } from '@elysiajs/cors'

/**
 * The CORS policy, with every setting explicit: the plugin's defaults would
 * echo whatever headers a request sends into the allowed and exposed lists.
 */
export function corsPolicy(origins: string[]) {
  return cors({
    origin: origins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'Last-Event-ID'],
    exposeHeaders: ['ETag', 'X-Total-Count', 'Link', 'Location', 'Idempotent-Replayed'],
    credentials: true,
    maxAge: 600,
  })
}
