export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 25 ms until it holds; throws `timed out waiting for <what>` after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

let emails = 0;
/** An address no earlier test in this process used (time + counter), e.g. `user.m3k2x1.7@example.com`. */
export function uniqueEmail(prefix = 'user'): string {
  emails += 1;
  return `${prefix}.${Date.now().toString(36)}.${emails}@example.com`;
}
