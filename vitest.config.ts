import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests start real servers and redis-server processes; two cores, so keep it modest.
    pool: 'forks',
    maxWorkers: 2,
  },
});
