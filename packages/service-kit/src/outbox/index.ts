export * from './table.ts';
export * from './enqueue.ts';
export * from './outcome.ts';
export * from './admin.ts';
export * from './worker.ts';
export * from './settings.ts';
