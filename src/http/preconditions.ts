import { t } from 'elysia'
import type { Precondition } from '../db/ownership'

// A version past int4 was never issued: it cannot match, and must not reach SQL.
const MAX_VERSION = 2_147_483_647
// RFC 9110 entity-tag list: [W/]"opaque" separated by commas; etagc excludes the quote.
const ENTITY_TAG = /\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)/y

/** The strong ETag of one version of a resource. */
export function etagOf(id: number, version: number): string {
  return `"${id}.${version}"`
}

/**
 * If-Match → the versions of resource `id` it names. Strong comparison of the
 * exact tag (RFC 9110): a weak tag, or one spelt differently from what
 * etagOf issues ("29.01", "029.1"), matches nothing, and so does a header
 * that is not a list of entity tags. `*` matches any current version.
 */
export function preconditionOf(ifMatch: string | undefined, id: number): Precondition | undefined {
  if (ifMatch === undefined) return undefined
  if (ifMatch.trim() === '*') return { any: true }
  const versions: number[] = []
  const prefix = `${id}.`
  ENTITY_TAG.lastIndex = 0
  while (ENTITY_TAG.lastIndex < ifMatch.length) {
    const match = ENTITY_TAG.exec(ifMatch)
    if (!match) return { versions: [] }
    const [, weak, opaque = ''] = match
    if (weak || !opaque.startsWith(prefix)) continue
    const version = opaque.slice(prefix.length)
    if (/^[1-9]\d{0,9}$/.test(version) && Number(version) <= MAX_VERSION) versions.push(Number(version))
  }
  return { versions }
}

/** The headers a write that honours If-Match accepts. */
export const PreconditionHeaders = t.Object({ 'if-match': t.Optional(t.String()) }, { additionalProperties: true })

export const ETagHeader = { etag: t.String({ description: 'Strong ETag; send it back in If-Match' }) }
