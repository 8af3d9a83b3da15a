/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    // tsconfig's isolatedModules makes ts-jest transpile only; `tsc` type-checks the tree once in `npm test`.
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  testMatch: ['<rootDir>/{packages,services}/*/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  // Real sidecars start in every suite; a few at a time is what two cores take without timeouts.
  testTimeout: 60_000,
};
