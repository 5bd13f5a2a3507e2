/** The contract's password rule: 8–128 characters with a lower-case letter, an upper-case letter and a digit. */
export function passwordProblem(password: string): string | null {
  if (password.length < 8) return 'must be at least 8 characters';
  if (password.length > 128) return 'must be at most 128 characters';
  if (!/[a-z]/.test(password) || !/[A-Z]/.test(password) || !/[0-9]/.test(password)) {
    return 'must contain at least one lower-case letter, one upper-case letter and one digit';
  }
  return null;
}
