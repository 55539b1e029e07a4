/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // isolatedModules in tsconfig makes ts-jest transpile only; `npm run typecheck` does the type checking.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  collectCoverageFrom: ['runtime/**/*.ts', 'config/**/*.ts', 'infra/**/*.ts', '!**/*.d.ts'],
  coverageReporters: ['text-summary', 'json-summary', 'lcov'],
  coverageThreshold: {
    global: { lines: 85, statements: 85 },
  },
  testTimeout: 60000,
};
