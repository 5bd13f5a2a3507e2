import { sql, type SQL } from 'drizzle-orm';
import { runStatement, type Executor } from '@shop/service-kit';
import type { NewOneTimeToken } from '../one-time-tokens/repository.ts';
import type { NewRefreshToken } from '../sessions/repository.ts';
import type { NewUser } from '../users/repository.ts';
import type { UserRow } from '../users/schema.ts';

interface NewAccountTokens {
  refresh?: NewRefreshToken | undefined;
  verification?: NewOneTimeToken | undefined;
}

/**
 * A new account's rows in one statement (data-modifying CTEs): the user and, when given, its refresh token and
 * verification token. Saves two statements per registration (docs/aths.md "Performance"). The row is built here,
 * timestamps included, rather than read back.
 */
export async function insertAccount(tx: Executor, values: NewUser, tokens: NewAccountTokens): Promise<UserRow> {
  const now = new Date();
  const row: UserRow = { ...values, emailVerified: values.emailVerified ?? false, isActive: true, lastLoginAt: null, createdAt: now, updatedAt: now };
  const parts: SQL[] = [
    sql`u AS (INSERT INTO users (id, email, password_hash, full_name, contact_number, address, role, is_active, email_verified, created_at, updated_at)
      VALUES (${row.id}, ${row.email}, ${row.passwordHash}, ${row.fullName}, ${row.contactNumber}, ${JSON.stringify(row.address)}::jsonb,
              ${row.role}, true, ${row.emailVerified}, ${now}, ${now}) RETURNING id)`,
  ];
  const { refresh, verification } = tokens;
  if (refresh) {
    parts.push(sql`r AS (INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, created_at, expires_at, family_expires_at)
      SELECT ${refresh.id}, ${refresh.tokenHash}, ${refresh.familyId}, u.id, ${now}, ${refresh.expiresAt}, ${refresh.familyExpiresAt} FROM u)`);
  }
  if (verification) {
    parts.push(sql`v AS (INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_at, expires_at)
      SELECT ${verification.tokenHash}, ${verification.purpose}, u.id, ${now}, ${verification.expiresAt} FROM u)`);
  }
  // On PGlite a prepared statement even inside the transaction (docs/aths.md, "Performance").
  await runStatement(tx, sql`WITH ${sql.join(parts, sql`, `)} SELECT id FROM u`);
  return row;
}
