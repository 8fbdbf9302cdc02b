export * from './crypto-error.js';
export * from './kek.js';
export * from './seal.js';
export * from './fingerprint.js';
