import { t } from 'elysia'
import { TypeRegistry } from 'elysia/type-system'
import { ValidationFailed } from '../errors'

// Integers in a path or a query string (task ids, paging). Elysia coerces a
// t.Integer there through a transform it then decodes, twice, on every
// request, and reads "0x10" or "1e3" as numbers. A Decimal is read once, by
// readDecimal before validation, from plain decimal digits only, and a wrong
// one is a 422 naming its field. The OpenAPI document shows an integer.
interface DecimalOptions {
  minimum: number
  maximum: number
  error: string
  default?: number
  description?: string
}

TypeRegistry.Set<DecimalOptions>(
  'Decimal',
  (schema, value) => Number.isSafeInteger(value) && (value as number) >= schema.minimum && (value as number) <= schema.maximum,
)

export function decimal<const Options extends DecimalOptions>(options: Options) {
  return t.Unsafe<number>({ [Symbol.for('TypeBox.Kind')]: 'Decimal', type: 'integer', ...options }) as ReturnType<typeof t.Unsafe<number>> &
    Options
}

// Enough digits for any safe integer; the schema bounds the value.
const DIGITS = /^\d{1,16}$/

/** The number a string of digits spells, within the schema's range, else a 422 naming the field. Anything but a string is left to validation. */
export function readDecimal(field: string, value: unknown, schema: DecimalOptions): unknown {
  if (typeof value !== 'string') return value
  const number = Number(value)
  if (!DIGITS.test(value) || number < schema.minimum || number > schema.maximum)
    throw new ValidationFailed([{ field, message: schema.error }])
  return number
}
