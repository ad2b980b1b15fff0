// A request's final answer, for a feature that must keep it (Idempotency-Key,
// src/idempotency): it asks before the handler runs, and the answer is handed
// over once, by the route's after-handle or by the error handler.

export type Answer = { status: number; headers: Record<string, unknown>; body: unknown }

const keepers = new WeakMap<Request, (answer: Answer) => Promise<void>>()

/** Hands this request's answer to `keep` when it is known. */
export function keepAnswer(request: Request, keep: (answer: Answer) => Promise<void>): void {
  keepers.set(request, keep)
}

/** The request has its answer: the keeper, if any, stores it before it is sent. */
export async function answered(request: Request, answer: Answer): Promise<void> {
  const keep = keepers.get(request)
  if (!keep) return
  keepers.delete(request)
  await keep(answer)
}
