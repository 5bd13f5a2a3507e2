import { describe, expect, it } from 'vitest';
import { ServiceProcess } from '../src/testing/index.ts';

describe('graceful shutdown', () => {
  it('on SIGTERM finishes the request in flight, refuses new connections, closes resources and exits 0', async () => {
    const service = await ServiceProcess.start({ entry: 'packages/service-kit/test/fixtures/slow-service.ts', env: { LOG_LEVEL: 'info' } });
    const inFlight = fetch(`${service.url}/slow`).then(async (response) => ({ status: response.status, body: await response.json() }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = service.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await fetch(`${service.url}/health`).then(
      () => false,
      () => true,
    );
    const answer = await inFlight;
    await stopped;
    expect(answer).toEqual({ status: 200, body: { success: true, message: 'finished' } });
    expect(refused).toBe(true);
    expect(service.running).toBe(false);
    expect(service.logs()).toContain('shutting down');
    expect(service.logs()).toContain('resources closed');
    // fetch keeps its connection alive: it was busy when closing began, and is closed once idle, well within the grace.
    expect(service.logs()).not.toContain('graceful shutdown timed out');
  }, 60_000);

  it('takes a second signal within 2 s as the same request (Ctrl-C under npm arrives twice) and still shuts down gracefully', async () => {
    const service = await ServiceProcess.start({ entry: 'packages/service-kit/test/fixtures/slow-service.ts', env: { LOG_LEVEL: 'info' } });
    const inFlight = fetch(`${service.url}/slow`).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(service.pid!, 'SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(service.pid!, 'SIGINT');
    expect(await inFlight).toBe('answered');
    for (let i = 0; i < 100 && service.running; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(service.running).toBe(false);
    expect(service.logs()).toContain('resources closed');
  }, 60_000);

  it('exits at once on a signal more than 2 s after the first, without waiting for the request in flight', async () => {
    const service = await ServiceProcess.start({ entry: 'packages/service-kit/test/fixtures/slow-service.ts', env: { LOG_LEVEL: 'info' } });
    const inFlight = fetch(`${service.url}/slow?ms=8000`).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(service.pid!, 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 2_300));
    process.kill(service.pid!, 'SIGTERM');
    expect(await inFlight).toBe('cut');
    for (let i = 0; i < 50 && service.running; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(service.running).toBe(false);
    expect(service.logs()).not.toContain('resources closed');
  }, 60_000);
});
