import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One Temporal dev server, one MESH sandbox and one Registrations API stand-in for the whole run (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    // Temporal workers use native threads: separate processes are the robust choice.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
