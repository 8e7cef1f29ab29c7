// Packages that ship only ES modules; jest (CommonJS) transpiles them. ml-hclust and the mljs helpers it
// pulls in are the clustering behind the knowledge-gap report (src/kb/clustering.ts).
const ESM_PACKAGES = '@xenova/transformers|ml-hclust|ml-distance-euclidean|ml-array-[a-z]+|is-any-array';

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
    [`node_modules/(?:${ESM_PACKAGES})/.+\\.js$`]: '<rootDir>/test/support/esm-transform.js',
  },
  transformIgnorePatterns: [`/node_modules/(?!(?:${ESM_PACKAGES})/)`],
  // Temporal, Postgres and the embedding model are brought up by scripts/test.mjs before jest runs.
  testTimeout: 120000,
  maxWorkers: 2,
};
