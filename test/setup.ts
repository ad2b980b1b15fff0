import { afterAll } from 'bun:test'
import { database } from './support'

// An open PGlite or pool would keep the test process alive after the last test.
afterAll(async () => {
  await database.close()
})
