import { Counter, type Registry } from 'prom-client';

export interface AthsMetrics {
  registrations: Counter<'role'>;
  logins: Counter<'outcome'>;
  refreshes: Counter<'outcome'>;
}

export function createAthsMetrics(registry: Registry): AthsMetrics {
  return {
    registrations: new Counter({
      name: 'aths_registrations_total',
      help: 'Users created (self-registration, administrator create, bootstrap) by role',
      labelNames: ['role'],
      registers: [registry],
    }),
    logins: new Counter({
      name: 'aths_logins_total',
      help: 'Login attempts by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    refreshes: new Counter({
      name: 'aths_token_refreshes_total',
      help: 'Refresh-token uses by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
