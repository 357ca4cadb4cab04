// The version both programs report. test/unit/version.test.ts holds it equal to package.json's, so the
// client need not read package.json at start-up.
export const VERSION = '0.1.0';
