import { and, count, eq, ilike, or, sql, type SQL } from 'drizzle-orm';
import { likePattern, rowMapper, runStatement, type Executor, type Role } from '@shop/service-kit';
import { users, type Address, type UserRow } from './schema.ts';

export interface NewUser {
  id: string;
  email: string;
  passwordHash: string;
  fullName: string;
  contactNumber: string;
  address: Address;
  role: Role;
  emailVerified?: boolean;
}

export async function findUserById(ex: Executor, id: string, forUpdate = false): Promise<UserRow | undefined> {
  const query = ex.select().from(users).where(eq(users.id, id));
  const [row] = forUpdate ? await query.for('update') : await query;
  return row;
}

const toUserRow = rowMapper(users);

/** The login's look-up, a prepared statement (see runStatement). */
export async function findUserByEmail(ex: Executor, email: string): Promise<UserRow | undefined> {
  const [row] = await runStatement(ex, sql`SELECT * FROM ${users} WHERE lower(${users.email}) = ${email.trim().toLowerCase()}`);
  return row && toUserRow(row);
}

export async function isUserActive(ex: Executor, id: string): Promise<boolean | undefined> {
  const [row] = await ex.select({ isActive: users.isActive }).from(users).where(eq(users.id, id));
  return row?.isActive;
}

export type UserPatch = Partial<
  Pick<UserRow, 'email' | 'passwordHash' | 'fullName' | 'contactNumber' | 'address' | 'role' | 'isActive' | 'emailVerified' | 'lastLoginAt'>
>;

export async function updateUser(ex: Executor, id: string, patch: UserPatch, touch = true): Promise<UserRow | undefined> {
  const [row] = await ex
    .update(users)
    .set(touch ? { ...patch, updatedAt: new Date() } : patch)
    .where(eq(users.id, id))
    .returning();
  return row;
}

export async function deleteUser(ex: Executor, id: string): Promise<boolean> {
  const rows = await ex.delete(users).where(eq(users.id, id)).returning({ id: users.id });
  return rows.length > 0;
}

/** Locks every Administrator row (so two concurrent deletions cannot both pass the last-admin check). */
export async function lockAdministrators(ex: Executor): Promise<string[]> {
  const rows = await ex.select({ id: users.id }).from(users).where(eq(users.role, 'Administrator')).for('update');
  return rows.map((row) => row.id);
}

export interface UserListFilter {
  page: number;
  limit: number;
  role?: Role;
  isActive?: boolean;
  /** Literal substring of name or e-mail (LIKE wildcards are escaped). */
  search?: string;
}

export async function listUsers(ex: Executor, filter: UserListFilter): Promise<{ rows: UserRow[]; total: number }> {
  const conditions: SQL[] = [];
  if (filter.role) conditions.push(eq(users.role, filter.role));
  if (filter.isActive !== undefined) conditions.push(eq(users.isActive, filter.isActive));
  if (filter.search) {
    const pattern = likePattern(filter.search);
    conditions.push(or(ilike(users.fullName, pattern), ilike(users.email, pattern))!);
  }
  const where = conditions.length > 0 ? and(...conditions) : undefined;
  const [rows, [total]] = await Promise.all([
    ex
      .select()
      .from(users)
      .where(where)
      .orderBy(sql`${users.createdAt} desc`, sql`${users.id} desc`)
      .limit(filter.limit)
      .offset((filter.page - 1) * filter.limit),
    ex.select({ value: count() }).from(users).where(where),
  ]);
  return { rows, total: Number(total?.value ?? 0) };
}

export interface UserStats {
  totalUsers: number;
  activeUsers: number;
  inactiveUsers: number;
  verifiedUsers: number;
  unverifiedUsers: number;
  customerCount: number;
  adminCount: number;
}

export async function userStats(ex: Executor): Promise<UserStats> {
  const [row] = await ex
    .select({
      totalUsers: count(),
      activeUsers: sql<number>`count(*) filter (where ${users.isActive})`,
      verifiedUsers: sql<number>`count(*) filter (where ${users.emailVerified})`,
      customerCount: sql<number>`count(*) filter (where ${users.role} = 'Customer')`,
      adminCount: sql<number>`count(*) filter (where ${users.role} = 'Administrator')`,
    })
    .from(users);
  const total = Number(row?.totalUsers ?? 0);
  const active = Number(row?.activeUsers ?? 0);
  const verified = Number(row?.verifiedUsers ?? 0);
  return {
    totalUsers: total,
    activeUsers: active,
    inactiveUsers: total - active,
    verifiedUsers: verified,
    unverifiedUsers: total - verified,
    customerCount: Number(row?.customerCount ?? 0),
    adminCount: Number(row?.adminCount ?? 0),
  };
}
