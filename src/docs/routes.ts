import { fileURLToPath } from 'node:url'
import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'

// Served by this service, not a CDN: the docs must render with no internet access.
const asset = (file: string) => fileURLToPath(import.meta.resolve(`swagger-ui-dist/${file}`))
const SWAGGER_JS = asset('swagger-ui-bundle.js')
const SWAGGER_CSS = asset('swagger-ui.css')

export function docsRoutes(version: string) {
  return new Elysia({ name: 'docs' })
    .get('/docs/assets/swagger-ui-bundle.js', () => Bun.file(SWAGGER_JS), { detail: { hide: true } })
    .get('/docs/assets/swagger-ui.css', () => Bun.file(SWAGGER_CSS), { detail: { hide: true } })
    .use(
      openapi({
        path: '/docs',
        specPath: '/docs/json',
        provider: 'swagger-ui',
        // The plugin leaves out paths with a dot as static files; /.well-known/... is an API route (the assets are hidden).
        exclude: { staticFile: false },
        swagger: {
          cdn: '/docs/assets/swagger-ui-bundle.js',
          theme: '/docs/assets/swagger-ui.css',
          autoDarkMode: false,
          // The plugin's default is the relative "docs/json", which /docs/ (trailing slash) resolves wrongly;
          // its types leave url out, but it is passed through to Swagger UI.
          ...({ url: '/docs/json' } as object),
        },
        documentation: {
          info: {
            title: 'Todo API',
            version,
            description: 'Multi-user tasks. Errors are `{detail, code}` (422 adds `errors`); 503 carries Retry-After.',
          },
          tags: [
            { name: 'tasks', description: "The caller's tasks" },
            {
              name: 'tasks (user id in path)',
              description: 'The same routes under /api/{user_id}/tasks; user_id must be the token subject',
            },
            { name: 'lists', description: "The caller's task lists" },
            {
              name: 'lists (user id in path)',
              description: 'The same routes under /api/{user_id}/lists; user_id must be the token subject',
            },
            { name: 'agents (MCP)', description: 'The Model Context Protocol endpoint for AI agents, and its OAuth resource metadata' },
            { name: 'service', description: 'Service information and health' },
          ],
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
          security: [{ bearer: [] }],
        },
      }),
    )
}
