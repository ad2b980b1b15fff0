// db/operations transaction(): one lost to a deadlock or a serialization
// failure runs once more; lost twice, it is a 503. Driven on the test
// database itself, with real PostgreSQL errors.
import { describe, expect, test } from 'bun:test'
import { eq, sql } from 'drizzle-orm'
import { toDatabaseUnavailable } from '../src/db/errors'
import { preparedIn, transaction } from '../src/db/operations'
import { taskQuotas } from '../src/db/schema'
import { database, TEST_DATABASE_URL, userId } from './support'

const { db } = database

// A real serialization failure, as PostgreSQL reports one (PGlite too).
const serializationFailure = sql`do $$ begin raise exception 'could not serialize access' using errcode = '40001'; end $$`

async function countOf(user: string): Promise<number | undefined> {
  const [row] = await db.select({ count: taskQuotas.taskCount }).from(taskQuotas).where(eq(taskQuotas.userId, user))
  return row?.count
}

if (!TEST_DATABASE_URL) console.warn('the deadlock test is skipped: it needs PostgreSQL (set TEST_DATABASE_URL), PGlite has one connection')

describe('a transaction rolled back by the database', () => {
  test('after a serialization failure it runs once more, from a clean slate, and commits', async () => {
    const user = userId('retried')
    let attempts = 0
    const result = await transaction(db, async (tx) => {
      attempts++
      // The first attempt's row must be gone, or this insert would meet it (23505).
      await tx.insert(taskQuotas).values({ userId: user, taskCount: attempts })
      if (attempts === 1) await tx.execute(serializationFailure)
      return 'committed'
    })
    expect(result).toBe('committed')
    expect(attempts).toBe(2)
    expect(await countOf(user)).toBe(2)
  })

  test('failing twice it gives up: a 503, nothing committed', async () => {
    const user = userId('given-up')
    let attempts = 0
    const error = await transaction(db, async (tx) => {
      attempts++
      await tx.insert(taskQuotas).values({ userId: user, taskCount: attempts })
      await tx.execute(serializationFailure)
    }).catch((error: unknown) => error)
    expect(attempts).toBe(2)
    expect(toDatabaseUnavailable(error)).toMatchObject({ code: 'database_unavailable', retryAfterSeconds: 2 })
    expect(await countOf(user)).toBeUndefined()
  })

  test('any other error is not run again', async () => {
    let attempts = 0
    const error = await transaction(db, async (tx) => {
      attempts++
      await tx.execute(sql`select 1 / 0`)
    }).catch((error: unknown) => error)
    expect(attempts).toBe(1)
    expect(toDatabaseUnavailable(error)).toBeUndefined()
  })

  // Two transactions take two rows in opposite orders, each waiting until the
  // other holds its first row: PostgreSQL finds the deadlock (after its
  // deadlock_timeout) and rolls one back; that one runs again once the other
  // has committed, and both succeed.
  test.if(Boolean(TEST_DATABASE_URL))('PostgreSQL: the loser of a real deadlock runs again and both commit', async () => {
    const [first, second] = [userId('deadlock-a'), userId('deadlock-b')]
    await db.insert(taskQuotas).values([{ userId: first }, { userId: second }])
    const increment = (tx: Parameters<Parameters<typeof transaction>[1]>[0], user: string) =>
      tx
        .update(taskQuotas)
        .set({ taskCount: sql`${taskQuotas.taskCount} + 1` })
        .where(eq(taskQuotas.userId, user))
    const holding = { [first]: Promise.withResolvers<void>(), [second]: Promise.withResolvers<void>() }
    const attempts = { [first]: 0, [second]: 0 }
    const lockBoth = (own: string, other: string) =>
      transaction(db, async (tx) => {
        attempts[own]!++
        await increment(tx, own)
        if (attempts[own] === 1) {
          holding[own]!.resolve()
          await holding[other]!.promise
        }
        await increment(tx, other)
      })
    await Promise.all([lockBoth(first, second), lockBoth(second, first)])
    expect([attempts[first], attempts[second]].sort()).toEqual([1, 2])
    expect(await countOf(first)).toBe(2)
    expect(await countOf(second)).toBe(2)
  })
})

describe('a statement built once for transactions (preparedIn)', () => {
  test("is built once and runs on each transaction's own connection, seeing its uncommitted writes", async () => {
    let builds = 0
    const name = `test_count_${crypto.randomUUID().slice(0, 8)}`
    for (const attempt of [1, 2]) {
      const user = userId(`prepared-in-${attempt}`)
      const seen = await transaction(db, async (tx) => {
        await tx.insert(taskQuotas).values({ userId: user, taskCount: attempt })
        // The pool cannot see the row while this transaction is open (PGlite has
        // no second connection to look from): seeing it proves the statement
        // ran on the transaction's connection.
        if (TEST_DATABASE_URL) expect(await db.select().from(taskQuotas).where(eq(taskQuotas.userId, user))).toEqual([])
        return preparedIn(tx, name, (named) => {
          builds++
          return tx
            .select({ count: taskQuotas.taskCount })
            .from(taskQuotas)
            .where(eq(taskQuotas.userId, sql.placeholder('userId')))
            .prepare(named)
        }).execute({ userId: user })
      })
      expect(seen).toEqual([{ count: attempt }])
    }
    expect(builds).toBe(1)
  })
})
