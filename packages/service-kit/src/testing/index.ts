export * from './databases.ts';
export * from './service-process.ts';
export * from './postgres-server.ts';
export * from './helpers.ts';
export * from './log-capture.ts';
