import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC, not esbuild, compiles the tests: Nest's DI needs emitDecoratorMetadata, which esbuild does not emit.
const swcPlugin = () =>
  swc.vite({
    module: { type: 'es6' },
    jsc: {
      target: 'es2023',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
  });

export default defineConfig({
  test: {
    reporters: process.env.CI ? ['default', 'junit'] : ['default'],
    outputFile: { junit: '.test-results/junit.xml' },
    projects: [
      {
        plugins: [swcPlugin()],
        oxc: false,
        test: { name: 'unit', include: ['test/unit/**/*.spec.ts'], testTimeout: 10_000 },
      },
      {
        plugins: [swcPlugin()],
        oxc: false,
        test: {
          name: 'db',
          globalSetup: ['test/support/global-setup.ts'],
          include: ['test/db/**/*.spec.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [swcPlugin()],
        oxc: false,
        test: {
          name: 'e2e',
          globalSetup: ['test/support/global-setup.ts'],
          include: ['test/e2e/**/*.spec.ts'],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        // The dashboard in headless Chromium (playwright-core); run last and alone, so Chromium starves no timing test.
        plugins: [swcPlugin()],
        oxc: false,
        test: {
          name: 'browser',
          globalSetup: ['test/support/global-setup.ts'],
          include: ['test/browser/**/*.spec.ts'],
          testTimeout: 90_000,
          hookTimeout: 90_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        // Real processes of the built service; run alone, after the other layers, so timing is not starved.
        plugins: [swcPlugin()],
        oxc: false,
        test: {
          name: 'process',
          globalSetup: ['test/support/global-setup.ts'],
          include: ['test/process/**/*.spec.ts'],
          testTimeout: 120_000,
          hookTimeout: 90_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
