// The one error kind the command treats apart: a command line that cannot be run as
// given. The command prints its message alone (no stack) and exits with status 2;
// every other failure is status 1, or 3 (failureMessage.ts's exitStatus).

/**
 * A command line that cannot be run as given: an unknown flag, a missing value, a value
 * its reader refuses, flags that contradict each other.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
