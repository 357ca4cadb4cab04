// Real-component suites (Ceph RGW, a Secret Service) run when scripts/test.sh has started the component
// and exported its variable. In CI a missing component is a failure, never a silent skip; on a laptop
// without it the suite is skipped with a reason printed to stderr.
import type { TestContext } from './tap-types.js';

export function realComponentAvailable(t: TestContext, variable: string, component: string): boolean {
  if (process.env[variable]) return true;
  const why = `${component} is not running (${variable} is unset; scripts/test.sh starts it)`;
  if (process.env.CI) {
    t.fail(`required in CI: ${why}`);
  } else {
    console.error(`\n*** SKIPPING: ${why} ***\n`);
    t.test(component, { skip: why }, () => undefined);
  }
  return false;
}

/**
 * For a component found by probing (a binary, a package): the `skip` option of a t.test. Under CI nothing
 * is skipped, so a missing component makes the test fail on its own.
 */
export function skipUnless(available: boolean, why: string): string | false {
  if (available || process.env.CI) return false;
  console.error(`\n*** SKIPPING: ${why} ***\n`);
  return why;
}
