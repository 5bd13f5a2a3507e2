/** ISO-8601 UTC with milliseconds, or null: the contract's only date format. */
export function isoOrNull(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return new Date(value).toISOString();
}
