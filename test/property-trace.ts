// For the commands of the model-based properties (fast-check): each step
// leaves a line in the run's trace, with the ids it resolved, so that a
// failure names its step and every step before it in the run. fast-check
// prints only the commands as generated, and a shrunk run's ids differ.

/**
 * Runs `step`, which returns its trace line, then the checks every step is
 * followed by; a failure names the step and the steps before it.
 */
export async function traced(trace: string[], described: string, step: () => Promise<string>, after: () => unknown): Promise<void> {
  let line = described
  try {
    line = await step()
    await after()
    trace.push(line)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`step ${trace.length + 1}: ${line}\nsteps before it in this run:\n  ${trace.join('\n  ') || '(none)'}\n${message}`, {
      cause: error,
    })
  }
}
