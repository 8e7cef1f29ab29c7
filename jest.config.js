/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/support/node-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': [
      '@swc/jest',
      { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
    'node_modules/@xenova/transformers/.+\\.js$': '<rootDir>/test/support/esm-transform.js',
  },
  transformIgnorePatterns: ['/node_modules/(?!@xenova/transformers/)'],
  // Temporal, Postgres and the embedding model are brought up by scripts/test.mjs before jest runs.
  testTimeout: 120000,
  maxWorkers: 2,
};
