// How an OAuth-capable MCP client finds where to get a token (RFC 9728): a
// 401 from /mcp names this service's resource metadata, which names Better
// Auth (BETTER_AUTH_URL) as the authorization server.
import { t } from 'elysia'

export const MCP_PATH = '/mcp'
export const METADATA_PATH = '/.well-known/oauth-protected-resource'

/**
 * This service's external base URL: PUBLIC_URL, else the origin the request
 * was sent to. No X-Forwarded-* header is read for it (nothing here trusts
 * them for more than the client address): behind a proxy, set PUBLIC_URL.
 */
export function baseUrlOf(request: Request, publicUrl: string | undefined): string {
  return publicUrl ?? new URL(request.url).origin
}

export const ResourceMetadata = t.Object({
  resource: t.String({ description: 'The MCP endpoint: what a token is for' }),
  authorization_servers: t.Array(t.String(), { description: 'Better Auth (BETTER_AUTH_URL); empty when it is not configured' }),
  bearer_methods_supported: t.Array(t.String()),
  scopes_supported: t.Array(t.String(), { description: 'None: a token acts for its subject on all of their lists and tasks' }),
})

export function resourceMetadata(base: string, authorizationServer: string | undefined): typeof ResourceMetadata.static {
  return {
    resource: `${base}${MCP_PATH}`,
    authorization_servers: authorizationServer ? [authorizationServer] : [],
    bearer_methods_supported: ['header'],
    scopes_supported: [],
  }
}

/** The auth-param a 401 from /mcp adds to its Bearer challenge (RFC 9728 section 5.1); nothing for other routes. */
export function resourceChallenge(publicUrl: string | undefined): (request: Request) => string | undefined {
  return (request) => {
    const path = new URL(request.url).pathname
    if (path !== MCP_PATH && path !== `${MCP_PATH}/`) return undefined
    return `resource_metadata="${baseUrlOf(request, publicUrl)}${METADATA_PATH}"`
  }
}
