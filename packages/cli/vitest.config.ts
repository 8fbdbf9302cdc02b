import { defineProject } from 'vitest/config';

export default defineProject({
  ssr: { resolve: { conditions: ['source'] } },
  resolve: { conditions: ['source'] },
  test: {
    name: 'cli',
    include: ['src/**/*.test.ts'],
    // The integration tests run the real built bin: build it once first.
    globalSetup: ['src/testing-fixtures/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
