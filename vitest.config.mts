import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['__test__/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests start servers and ffmpeg processes: one file at a time on 2 cores.
    fileParallelism: false,
    reporters: ['default'],
  },
})
