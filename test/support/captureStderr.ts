// What the code under test writes to stderr (its default warnings), captured instead of printed.

/** Routes process.stderr.write into a buffer until `restore()`; `text()` is what was written so far. */
function recordStderr(): { text(): string; restore(): void } {
  const chunks: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  return {
    text: () => chunks.join(''),
    restore: () => {
      process.stderr.write = write;
    },
  };
}

/** Runs `body` with stderr captured; returns what was written. */
export function captureStderrSync(body: () => void): string {
  const recording = recordStderr();
  try {
    body();
    return recording.text();
  } finally {
    recording.restore();
  }
}

/** Runs `body` with stderr captured until it settles; returns what was written. */
export async function captureStderr(body: () => Promise<void>): Promise<string> {
  const recording = recordStderr();
  try {
    await body();
    return recording.text();
  } finally {
    recording.restore();
  }
}
