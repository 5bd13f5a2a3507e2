export * from './databases.ts';
export * from './service-process.ts';
