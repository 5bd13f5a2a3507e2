import { testDatabaseDrivers, waitFor } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtp, type Smtp } from '../../services/aths/test/helpers.ts';
import { CRMS_KEY, ProvisioningSystem } from '../support/system.ts';

describe.each(testDatabaseDrivers())("ATHS's GET /health/detailed with a real CRMS and SMTP server, on %s", (driver) => {
  let system: ProvisioningSystem;
  let smtp: Smtp;

  beforeAll(async () => {
    smtp = await startSmtp();
    system = await ProvisioningSystem.start(driver, { SMTP_URL: smtp.url });
  });
  afterAll(async () => {
    await system?.close();
    await smtp?.close();
  });

  async function health() {
    const response = await fetch(`${system.athsUrl}/health/detailed`);
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) };
  }

  it('200 while CRMS answers; 503 naming provisioning while CRMS is unreachable; 200 again once it is back', async () => {
    const first = await system.register();
    await system.waitForCustomers([first.userId]);
    await waitFor(async () => (await system.outboxRows(first.userId)).every((row) => row.state === 'delivered'), 10_000, 'delivered');

    const fine = await health();
    expect(fine.status).toBe(200);
    expect(fine.body.data.status).toBe('ok');
    expect(fine.body.data.checks).toMatchObject({
      database: { status: 'ok' },
      provisioning: { status: 'ok', delivery: 'enabled', targetFailing: false, pending: 0, dead: 0, oldestPendingAgeSeconds: 0 },
      mail: { status: 'ok', transport: 'smtp' },
    });
    expect(fine.text).not.toContain(CRMS_KEY);

    // The port ATHS delivers to is closed: the worker counts CRMS as down after 3 failed attempts in a row.
    await system.proxy.set({ kind: 'down' });
    const waiting = await system.register();
    await waitFor(async () => (await health()).status === 503, 10_000, 'health 503');
    const down = await health();
    expect(down.body).toMatchObject({ success: false, message: 'Failing: provisioning' });
    expect(down.body.errors).toEqual([{ field: 'provisioning', message: expect.stringContaining('CRMS is not answering') }]);
    expect(down.body.data.checks.provisioning).toMatchObject({ status: 'failing', delivery: 'enabled', targetFailing: true });
    expect(down.body.data.checks.provisioning.pending).toBeGreaterThanOrEqual(1);
    expect(down.body.data.checks.database.status).toBe('ok');
    expect(down.body.data.checks.mail.status).toBe('ok');
    expect(down.text).not.toContain(CRMS_KEY);
    expect(down.text).not.toContain(system.proxy.url);

    await system.proxy.set({ kind: 'pass' });
    await system.waitForCustomers([waiting.userId]);
    await waitFor(async () => (await health()).status === 200, 10_000, 'health 200 again');
    expect((await health()).body.data.checks.provisioning).toMatchObject({ status: 'ok', targetFailing: false });
  });
});
