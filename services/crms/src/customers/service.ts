import { conflict, forbidden, HttpError, likePattern, notFound, sqlStateOf, type AccessClaims, type Database, type Logger } from '@shop/service-kit';
import type { Counter as PromCounter } from 'prom-client';
import type { AthsClient } from '../aths-client.ts';
import {
  COUNTERS,
  createCustomerBody,
  type Analytics,
  type CreateCustomerInput,
  type ListQuery,
  type ProfileSyncInput,
  type StatisticsInput,
  type UpdateCustomerInput,
} from './dto.ts';
import type { CustomerStatusHooks } from './hooks.ts';
import { toAdminCustomer } from './mappers.ts';
import * as repository from './repository.ts';
import type { CustomerRow, CustomerStatus, CustomerType } from './schema.ts';

export interface CustomersServiceDeps {
  db: Database;
  hooks: CustomerStatusHooks;
  aths: AthsClient;
  logger: Logger;
  metrics?: { creates: PromCounter<'outcome'>; repairs: PromCounter<'outcome'> };
}

const customerNotFound = (field = 'customerId') => notFound('Customer not found', field);

const round2 = (value: number) => Math.round(value * 100) / 100;

export function createCustomersService(deps: CustomersServiceDeps) {
  const { db, hooks, aths, logger } = deps;
  const hot = repository.prepareHotPath(db);

  /** Idempotent on userId under any concurrency: INSERT … ON CONFLICT DO NOTHING, else the existing row. */
  async function create(input: CreateCustomerInput): Promise<{ created: boolean; customer: CustomerRow }> {
    const inserted = await hot.insertCustomerIfAbsent(input);
    if (inserted) {
      deps.metrics?.creates.inc({ outcome: 'created' });
      return { created: true, customer: inserted };
    }
    const existing = await hot.findCustomerByUserId(input.userId);
    // Records are never hard-deleted, so the conflicting row is there.
    if (!existing) throw new Error(`customer for user ${input.userId} conflicted but cannot be read`);
    deps.metrics?.creates.inc({ outcome: 'existing' });
    return { created: false, customer: existing };
  }

  async function getByUserId(userId: string): Promise<CustomerRow> {
    const row = await hot.findCustomerByUserId(userId);
    if (!row) throw customerNotFound('userId');
    return row;
  }

  async function getById(customerId: string): Promise<CustomerRow> {
    const row = await repository.findCustomerById(db, customerId);
    if (!row) throw customerNotFound();
    return row;
  }

  async function updateStatistics(customerId: string, input: StatisticsInput): Promise<CustomerRow> {
    let row: CustomerRow | undefined;
    try {
      row = await repository.applyStatistics(db, customerId, input);
    } catch (error) {
      if (sqlStateOf(error) === '22003') {
        throw conflict('Statistics update refused', 'increment', 'The change would exceed the largest value a counter can hold');
      }
      throw error;
    }
    if (row) return row;
    const current = await repository.findCustomerById(db, customerId);
    if (!current) throw customerNotFound();
    // The guard refused: name the counters that would have gone below zero (as seen now).
    const negative = COUNTERS.filter((counter) => {
      const delta = input.increment?.[counter];
      return input[counter] === undefined && delta !== undefined && Number(current[counter]) + delta < 0;
    });
    const names = negative.length > 0 ? negative : COUNTERS.filter((counter) => (input.increment?.[counter] ?? 0) < 0);
    throw new HttpError(
      409,
      'Statistics update refused: a counter would become negative',
      names.map((counter) => ({ field: `body -> increment -> ${counter}`, message: `would drive ${counter} below 0` })),
    );
  }

  /** ATHS keeps the copied profile fields in step; a status change here is recorded but not echoed back to ATHS. */
  async function syncProfile(userId: string, input: ProfileSyncInput): Promise<CustomerRow> {
    return db.transaction(async (tx) => {
      const current = await repository.findCustomerByUserId(tx, userId, true);
      if (!current) throw customerNotFound('userId');
      const statusChanged = input.customerStatus !== undefined && input.customerStatus !== current.customerStatus;
      const row = await repository.updateCustomer(
        tx,
        { customerId: current.id },
        {
          email: input.email,
          fullName: input.fullName,
          contactNumber: input.contactNumber,
          customerStatus: input.customerStatus,
          ...(input.customerStatus !== undefined && input.customerStatus !== 'Inactive' ? { deletedAt: null } : {}),
        },
        undefined,
      );
      if (statusChanged) {
        await repository.insertStatusChange(tx, {
          customerId: current.id,
          previousStatus: current.customerStatus,
          status: input.customerStatus!,
          reason: 'Synchronised from the authentication service',
          changedBy: 'ATHS',
        });
      }
      return row!;
    });
  }

  /**
   * The caller's own record; a Customer without one is repaired from ATHS (same idempotent create), an
   * Administrator without one gets 404. A record whose status is not Active answers 403 field `account`.
   */
  async function getOwn(claims: AccessClaims): Promise<CustomerRow> {
    let row = await hot.findCustomerByUserId(claims.userId);
    if (!row) {
      if (claims.role !== 'Customer') throw customerNotFound('userId');
      row = await repairFromAths(claims.userId);
    }
    if (row.customerStatus !== 'Active') {
      throw forbidden('Account is not active', 'account', `This customer account is ${row.customerStatus}`);
    }
    return row;
  }

  async function repairFromAths(userId: string): Promise<CustomerRow> {
    const lookup = await aths.getUser(userId);
    if (!lookup.found) {
      deps.metrics?.repairs.inc({ outcome: 'user_not_found' });
      throw customerNotFound('userId');
    }
    const user = lookup.user;
    if (user.role !== 'Customer') {
      deps.metrics?.repairs.inc({ outcome: 'not_a_customer' });
      throw customerNotFound('userId');
    }
    if (user.isActive === false) {
      deps.metrics?.repairs.inc({ outcome: 'inactive' });
      throw forbidden('Account is deactivated', 'account', 'This account has been deactivated');
    }
    const parsed = createCustomerBody.safeParse({
      userId,
      email: user.email,
      fullName: user.fullName,
      contactNumber: user.contactNumber,
    });
    if (!parsed.success) {
      deps.metrics?.repairs.inc({ outcome: 'invalid_profile' });
      logger.error({ userId, issues: parsed.error.issues.map((issue) => issue.path.join('.')) }, 'ATHS user cannot become a customer record');
      throw new HttpError(502, 'Could not create the customer record', [
        { field: 'aths', message: 'The user profile from the authentication service does not meet the customer record rules' },
      ]);
    }
    const result = await create(parsed.data);
    deps.metrics?.repairs.inc({ outcome: result.created ? 'created' : 'existing' });
    logger.info({ userId, customerId: result.customer.id, created: result.created }, 'customer record repaired on read');
    return result.customer;
  }

  async function list(query: ListQuery) {
    const pattern = query.search ? likePattern(query.search) : undefined;
    return repository.listCustomers(db, {
      status: query.status,
      type: query.type,
      pattern,
      sortBy: query.sortBy,
      sortOrder: query.sortOrder,
      page: query.page,
      limit: query.limit,
    });
  }

  async function search(q: string, page: number, limit: number) {
    return repository.listCustomers(db, { pattern: likePattern(q), sortBy: 'customerSince', sortOrder: 'desc', page, limit });
  }

  async function analytics(): Promise<Analytics> {
    const row = await repository.customerAnalytics(db);
    const totalOrders = Number(row.total_orders);
    const totalOrderValue = round2(Number(row.total_order_value));
    return {
      totalCustomers: Number(row.total),
      customersByStatus: { Active: Number(row.active), Inactive: Number(row.inactive), Suspended: Number(row.suspended) },
      customersByType: { Regular: Number(row.regular), Premium: Number(row.premium), VIP: Number(row.vip) },
      orderStatistics: {
        totalOrders,
        totalOrderValue,
        averageOrderValue: totalOrders > 0 ? round2(totalOrderValue / totalOrders) : 0,
      },
      complaintStatistics: { totalComplaints: Number(row.total_complaints), openComplaints: Number(row.open_complaints) },
      newCustomersThisMonth: Number(row.new_this_month),
      generatedAt: new Date().toISOString(),
    };
  }

  async function adminView(customerId: string, row?: CustomerRow) {
    const current = row ?? (await getById(customerId));
    return toAdminCustomer(current, await repository.statusHistoryOf(db, current.id));
  }

  async function update(customerId: string, input: UpdateCustomerInput, adminId: string): Promise<CustomerRow> {
    const patch = { ...input, tags: input.tags ? [...new Set(input.tags)] : undefined };
    const row = await repository.updateCustomer(db, { customerId }, patch, adminId);
    if (!row) throw customerNotFound();
    return row;
  }

  async function setType(customerId: string, type: CustomerType, adminId: string): Promise<CustomerRow> {
    const row = await repository.updateCustomer(db, { customerId }, { customerType: type }, adminId);
    if (!row) throw customerNotFound();
    return row;
  }

  async function addNote(customerId: string, text: string, adminId: string): Promise<CustomerRow> {
    const row = await repository.appendNote(db, customerId, { note: text, addedBy: adminId, addedAt: new Date().toISOString() }, adminId);
    if (!row) throw customerNotFound();
    return row;
  }

  /**
   * An administrator's status write (and the soft delete): update, audit-trail entry and the cross-service hook in
   * ONE transaction; afterCommit once it has committed.
   */
  async function changeStatus(
    customerId: string,
    status: CustomerStatus,
    adminId: string,
    options: { reason?: string; softDelete?: boolean },
  ): Promise<CustomerRow> {
    const row = await db.transaction(async (tx) => {
      const current = await repository.findCustomerById(tx, customerId, true);
      if (!current) throw customerNotFound();
      const deletedAt = options.softDelete ? (current.deletedAt ?? new Date()) : status === 'Inactive' ? current.deletedAt : null;
      const updated = await repository.updateCustomer(tx, { customerId }, { customerStatus: status, deletedAt }, adminId);
      await repository.insertStatusChange(tx, {
        customerId,
        previousStatus: current.customerStatus,
        status,
        reason: options.reason && options.reason.length > 0 ? options.reason : null,
        changedBy: adminId,
      });
      await hooks.onCustomerStatusChanged(tx, { customerId, userId: current.userId, status });
      return updated!;
    });
    try {
      hooks.afterCommit();
    } catch (error) {
      logger.error({ err: error, customerId }, 'customer status afterCommit hook failed');
    }
    return row;
  }

  return {
    create,
    getByUserId,
    getById,
    updateStatistics,
    syncProfile,
    getOwn,
    list,
    search,
    analytics,
    adminView,
    update,
    setType,
    addNote,
    changeStatus,
  };
}

export type CustomersService = ReturnType<typeof createCustomersService>;
