import type { Driver } from '../lib/cluster.ts';
import type { Section } from '../lib/report.ts';

export interface ScenarioContext {
  quick: boolean;
  /** Drivers to measure on (PostgreSQL when its server answers, PGlite always). */
  drivers: Driver[];
  log(message: string): void;
}

export type Scenario = (context: ScenarioContext) => Promise<Section>;

/** Seconds, scaled down in quick mode. */
export function seconds(context: ScenarioContext, full: number, quick: number): number {
  return (context.quick ? quick : full) * 1000;
}

export const driverName = (driver: Driver) => (driver === 'postgres' ? 'PostgreSQL' : 'PGlite');
