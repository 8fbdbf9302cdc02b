import { defineConfig } from 'vitest/config';

// One run over every workspace package; each package also runs alone with `pnpm --filter <pkg> test`.
export default defineConfig({
  test: {
    projects: ['packages/*', 'testing', 'e2e', 'bench'],
  },
});
