import { t } from 'elysia'
import { decimal, readDecimal } from './decimal'

export const DEFAULT_LIMIT = 100

/** `limit` and `offset`, for a collection's query schema. */
export const PagingQuery = {
  limit: t.Optional(decimal({ minimum: 1, maximum: 1000, default: DEFAULT_LIMIT, error: 'must be an integer from 1 to 1000' })),
  offset: t.Optional(decimal({ minimum: 0, maximum: 2147483647, default: 0, error: 'must be an integer of at least 0' })),
}

export type Page = { limit: number; offset: number }

/** Reads `limit` and `offset` as numbers before validation (a wrong one is a 422 naming it). */
export function readPaging(query: unknown): void {
  const paging = query as Record<string, unknown> | undefined
  if (paging?.limit !== undefined) paging.limit = readDecimal('limit', paging.limit, PagingQuery.limit)
  if (paging?.offset !== undefined) paging.offset = readDecimal('offset', paging.offset, PagingQuery.offset)
}

export function pageOf(query: { limit?: number; offset?: number }): Page {
  return { limit: query.limit ?? DEFAULT_LIMIT, offset: query.offset ?? 0 }
}

/** The paging headers of a collection's answer, for the OpenAPI document. */
export const PageHeaders = {
  'x-total-count': t.String({ description: 'Matching items before paging' }),
  link: t.String({ description: 'RFC 8288 next/prev links, when they exist' }),
}

/** X-Total-Count, and an RFC 8288 Link with next/prev where they exist. */
export function setPageHeaders(set: { headers: Record<string, unknown> }, requestUrl: string, page: Page, total: number): void {
  set.headers['x-total-count'] = String(total)
  const { offset, limit } = page
  // Most lists fit in one page: the URL is parsed only when there is a link to write.
  if (offset === 0 && limit >= total) return
  const url = new URL(requestUrl)
  const link = (at: number, rel: string) => {
    url.searchParams.set('offset', String(at))
    url.searchParams.set('limit', String(limit))
    return `<${url.pathname}${url.search}>; rel="${rel}"`
  }
  const links = []
  if (offset + limit < total) links.push(link(offset + limit, 'next'))
  if (offset > 0) links.push(link(Math.max(0, offset - limit), 'prev'))
  if (links.length) set.headers.link = links.join(', ')
}
