import { defineProject } from 'vitest/config';

export default defineProject({
  ssr: { resolve: { conditions: ['source'] } },
  resolve: { conditions: ['source'] },
  test: {
    name: 'e2e',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    // The suite runs the REAL built CLI, gateway and supervisor as processes: build them once first.
    globalSetup: ['src/harness/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});
