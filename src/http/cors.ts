import { cors } from '@elysiajs/cors'

/**
 * The CORS policy, with every setting explicit: the plugin's defaults would
 * echo whatever headers a request sends into the allowed and exposed lists.
 */
export function corsPolicy(origins: string[]) {
  return cors({
    origin: origins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    // MCP clients in a browser send Mcp-Protocol-Version after initialize, and read a 401's
    // WWW-Authenticate to find the resource metadata. /mcp is stateless: no Mcp-Session-Id.
    allowedHeaders: [
      'Authorization',
      'Content-Type',
      'If-Match',
      'If-None-Match',
      'Idempotency-Key',
      'Last-Event-ID',
      'Mcp-Protocol-Version',
    ],
    exposeHeaders: ['ETag', 'X-Total-Count', 'Link', 'Location', 'Idempotent-Replayed', 'WWW-Authenticate'],
    credentials: true,
    maxAge: 600,
  })
}
