/** Bad input: the OpenAPI-driven fuzzer (tests/support/fuzz/) against every route of both services, in the report. */
import { ATHS_ENTRY, CRMS_ENTRY, serviceExists, type Driver } from '../../tests/support/cluster.ts';
import { fuzzCluster, type FuzzReport } from '../../tests/support/fuzz/run.ts';
import { table, verdict, type Section } from '../lib/report.ts';
import { acquireCluster, driverName, type Scenario } from './context.ts';

const statusList = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, n]) => `${status === '0' ? 'no answer' : status}: ${n}`)
    .join(', ');

function fuzzBlocks(driver: Driver, reports: FuzzReport[]): string[] {
  const blocks: string[] = [];
  blocks.push(
    table(
      ['Database', 'Service', 'Routes (from /docs/json)', 'Requests', 'Answers by status', '5xx (goal 0)', 'Not in the envelope (goal 0)', 'No x-request-id', 'No CORS headers', 'Time'],
      reports.map((report) => [
        driverName(driver),
        report.service,
        report.routes,
        report.requests.toLocaleString('en-US'),
        statusList(report.statuses),
        `${report.serverErrors} ${verdict(report.serverErrors === 0)}`,
        `${report.envelopeViolations} ${verdict(report.envelopeViolations === 0)}`,
        report.missingRequestId,
        report.missingCors,
        `${(report.durationMs / 1000).toFixed(1)} s`,
      ]),
    ),
  );
  const groups = reports.flatMap((report) => report.groups.map((group) => ({ service: report.service, ...group })));
  if (groups.length) {
    blocks.push(`Findings on ${driverName(driver)} (grouped by route, status and problem; one example each):`);
    blocks.push(
      table(
        ['Service', 'Route', 'Status', 'Problem', 'Count', 'Example request', 'Example answer'],
        groups.slice(0, 30).map((group) => [
          group.service,
          group.route,
          group.status,
          group.problem,
          group.count,
          `${group.example.request.method} ${group.example.request.path.slice(0, 120)}${group.example.request.contentType ? ` (${group.example.request.contentType})` : ''}`,
          `\`${group.example.bodyPreview.slice(0, 160)}\``,
        ]),
      ),
    );
    if (groups.length > 30) blocks.push(`… and ${groups.length - 30} more groups.`);
  }
  return blocks;
}

export const fuzzScenario: Scenario = async (context) => {
  const perService = context.quick ? 1_500 : 6_000;
  const section: Section = {
    title: 'Bad input (fuzzing every route)',
    description: `tests/support/fuzz/ reads each service's own OpenAPI document (\`GET /docs/json\`, plus \`/docs\`, \`/docs/json\` and \`/metrics\`),
and fast-check (seeded, so a run repeats) generates ${perService.toLocaleString('en-US')} requests per service spread evenly over the routes: bad path params
(malformed ids, unicode, NUL, malformed percent-encoding, very long), bad and unknown query values, wrong types, missing fields, huge strings, nested
junk (to depth 3,000), prototype keys, non-JSON bodies, wrong content types, bodies over the limit, wrong methods, with no, wrong or valid credentials
(API key, administrator token, customer token) so that most requests reach validation and the handlers.
Each answer must be below 500 and, for an error, \`{success:false, message, errors:[{field, message}]}\` (for a success \`{success:true, message}\`;
Swagger UI, \`/metrics\` and the JWKS are exempt as successes; CRMS's lists answer the bare \`{items, pagination}\`).
Every request comes from the web app's origin (\`Origin: http://localhost:3000\`, allowed by default): every answer must carry its CORS headers.`,
    blocks: [],
    summary: [],
  };
  if (!serviceExists(CRMS_ENTRY)) return { ...section, skipped: `not available yet: ${CRMS_ENTRY} does not exist` };
  const started = Date.now();
  const drivers = context.quick ? context.drivers.slice(0, 1) : context.drivers;
  for (const driver of drivers) {
    context.log(`fuzz on ${driverName(driver)}`);
    const acquired = await acquireCluster(context, { driver, withAths: serviceExists(ATHS_ENTRY), label: 'bench_fuzz' });
    const cluster = acquired.cluster;
    try {
      const reports = await fuzzCluster(cluster, perService);
      section.blocks.push(...fuzzBlocks(driver, reports));
      const total = reports.reduce((sum, report) => sum + report.requests, 0);
      const fiveXX = reports.reduce((sum, report) => sum + report.serverErrors, 0);
      const outside = reports.reduce((sum, report) => sum + report.envelopeViolations + report.missingRequestId + report.missingCors, 0);
      section.summary!.push({
        goal: `Malformed input: no 5xx, every answer in the envelope (${driverName(driver)}, ${reports.map((r) => `${r.service} ${r.routes} routes`).join(', ')})`,
        measured: `${total.toLocaleString('en-US')} requests: ${fiveXX} 5xx, ${outside} outside the envelope or without x-request-id or CORS headers`,
        pass: fiveXX === 0 && outside === 0,
      });
    } catch (error) {
      section.blocks.push(`Fuzzing on ${driverName(driver)} failed: ${(error as Error).message.split('\n')[0]}`);
    } finally {
      await acquired.release();
    }
  }
  if (!serviceExists(ATHS_ENTRY)) section.blocks.push(`ATHS not fuzzed: not available yet (${ATHS_ENTRY} does not exist).`);
  section.durationMs = Date.now() - started;
  return section;
};
