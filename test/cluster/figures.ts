// The cluster suite's measured figures (sent, counted, lost, doubled, retries, times),
// printed once after every file has run, with the cluster's start times.

/** One line per case, in the order the cases ran. */
export const figures: string[] = [];

// A root-level hook: runs once after every file of the suite.
if (typeof after === 'function') {
  after(() => {
    if (figures.length > 0)
      process.stdout.write(`\n      cluster figures:\n${figures.map((line) => `        ${line}`).join('\n')}\n`);
  });
}
