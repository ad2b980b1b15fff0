import { t } from 'elysia'
import { TypeRegistry } from 'elysia/type-system'

// TypeBox measures strings in UTF-16 code units, so an emoji would count twice;
// the contract counts characters. A "Text" kind checks code points, and refuses
// what PostgreSQL cannot store (NUL, unpaired surrogates). In the OpenAPI
// document it is a plain string with minLength/maxLength.
export const MALFORMED_TEXT = 'must not contain NUL characters or unpaired surrogates'

/** PostgreSQL refuses NUL in text (SQLSTATE 22021) and UTF-8 cannot carry a lone surrogate. */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed()
}

TypeRegistry.Set<{ minLength?: number; maxLength: number }>('Text', (schema, value) => {
  if (typeof value !== 'string' || !isStorableText(value)) return false
  let length = 0
  for (const _ of value) length++
  return length >= (schema.minLength ?? 0) && length <= schema.maxLength
})

export function text(options: { minLength?: number; maxLength: number; error: string; description?: string }) {
  return t.Unsafe<string>({ [Symbol.for('TypeBox.Kind')]: 'Text', type: 'string', ...options })
}
