/**
 * Bad input: ≥ 2,000 malformed requests per service from the OpenAPI-driven fuzzer (real processes); none may be a 5xx
 * or outside the envelope. PGlite always, PostgreSQL too with TEST_DATABASE_URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { fuzzCluster, type FuzzReport } from '../support/fuzz/run.ts';

const REQUESTS_PER_SERVICE = 2_000;

function describeFindings(report: FuzzReport): string {
  return report.groups
    .slice(0, 10)
    .map(
      (group) =>
        `${report.service} ${group.route} → ${group.status} ${group.problem} ×${group.count}\n` +
        `  e.g. ${group.example.request.method} ${group.example.request.path} ${group.example.request.contentType ?? ''} ${group.example.request.bodyPreview ?? ''}\n` +
        `  answered ${group.example.bodyPreview}`,
    )
    .join('\n');
}

describe.each(testDatabaseDrivers())('fuzzing both services on %s', (driver) => {
  let cluster: Cluster;
  let reports: FuzzReport[];

  beforeAll(async () => {
    cluster = await startCluster({ driver, label: 'sys_fuzz', captureOutput: true });
    reports = await fuzzCluster(cluster, REQUESTS_PER_SERVICE, 4242);
  }, 150_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('covers every documented route of CRMS and ATHS with at least 2,000 requests each', () => {
    expect(reports.map((report) => report.service)).toEqual(['CRMS', 'ATHS']);
    for (const report of reports) {
      expect(report.requests).toBeGreaterThanOrEqual(REQUESTS_PER_SERVICE);
      expect(report.routes).toBeGreaterThan(5);
      expect(Object.keys(report.perRoute)).toHaveLength(report.routes);
      expect(report.transportErrors).toBe(0);
    }
  });

  it('answers no malformed request with a 5xx', () => {
    for (const report of reports) expect(report.serverErrors, describeFindings(report)).toBe(0);
  });

  it('answers every request in the contract envelope, with an x-request-id', () => {
    for (const report of reports) {
      expect(report.envelopeViolations, describeFindings(report)).toBe(0);
      expect(report.missingRequestId).toBe(0);
      expect(report.missingCors, 'answers to an allowed origin without CORS headers').toBe(0);
    }
  });
});
