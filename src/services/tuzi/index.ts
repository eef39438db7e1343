export { TuziClient, DEFAULT_RETRY, DEFAULT_TIMEOUTS } from './client.js';
export type { TuziClientOptions, TuziLogger, TuziRetryPolicy, TuziTimeouts, Sleep } from './client.js';
export { TuziError, isTuziError, classifyTransportError } from './errors.js';
export type { TuziErrorKind, TuziOperation } from './errors.js';
export { VIDEO_STATUSES } from './types.js';
export type * from './types.js';
