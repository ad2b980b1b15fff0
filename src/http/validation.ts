// Validation failures as the contract's 422: one {field, message} per field,
// in the schema's own words. Routes get it from Elysia's validation (through
// error-handler.ts); other entry points (the MCP tools) check with validator().
import { type Static, type TSchema, ValidationError } from 'elysia'
import { TypeCompiler } from 'elysia/type-system'
import { type FieldError, ValidationFailed } from '../errors'
import { isStorableText, MALFORMED_TEXT } from './text'

// TypeBox error kinds whose own wording is better replaced.
const UNEXPECTED_PROPERTY = 42
const REQUIRED_PROPERTY = 45

function fieldName(path: string): string {
  if (!path) return 'body'
  return path
    .slice(1)
    .split('/')
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('')
}

function messageOf(issue: ValidationError['all'][number] & { path: string }): string {
  // No body at all: json-body reads it as null.
  if (issue.path === '' && issue.value == null) return 'is required (a JSON object)'
  if (issue.type === UNEXPECTED_PROPERTY) return 'is not an accepted field'
  if (issue.type === REQUIRED_PROPERTY) return 'is required'
  if (typeof issue.value === 'string' && !isStorableText(issue.value)) return MALFORMED_TEXT
  return typeof issue.schema?.error === 'string' ? issue.schema.error : issue.message
}

export function fieldErrors(error: ValidationError): FieldError[] {
  const seen = new Set<string>()
  const errors: FieldError[] = []
  for (const issue of error.all) {
    if (!('path' in issue)) continue
    const field = fieldName(issue.path)
    if (seen.has(field)) continue
    seen.add(field)
    errors.push({ field, message: messageOf(issue) })
  }
  return errors.length ? errors : [{ field: error.type, message: 'is invalid' }]
}

/**
 * A schema compiled once, checking a value as a route checks its body: a
 * failure is the same 422 naming each field.
 */
export function validator<S extends TSchema>(schema: S): (value: unknown) => Static<S> {
  const compiled = TypeCompiler.Compile(schema)
  return (value) => {
    if (!compiled.Check(value)) throw new ValidationFailed(fieldErrors(new ValidationError('body', compiled, value)))
    return value
  }
}
