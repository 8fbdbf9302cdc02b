export * from './errors.js';
export * from './inference-profile.js';
export * from './normalize.js';
export * from './protocol.js';
export * from './bundle.js';
export * from './provider-profile.js';
export * from './environment.js';
export * from './secret.js';
