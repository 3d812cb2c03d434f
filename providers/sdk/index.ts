export * from './diff.ts';
export * from './errors.ts';
export * from './handler.ts';
export * from './labels.ts';
export * from './module.ts';
export * from './resource.ts';
export * from './schema.ts';
export * from './secret-value.ts';
