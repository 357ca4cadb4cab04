import type t from 'tap';

/** The `t` a subtest callback receives, with tap's plugins. */
export type TestContext = Parameters<Parameters<typeof t.test>[0]>[0];
