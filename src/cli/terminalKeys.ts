// Single key presses from a terminal, without echo: in the terminal's default (cooked)
// mode every Enter would print a newline and push the live table down the screen.
// Raw mode also turns Ctrl-C into a key instead of SIGINT, so it is handled here.

export interface KeyHandlers {
  readonly enter: () => void;
  /** Ctrl-C or q. */
  readonly quit: () => void;
}

/**
 * Listens to `input` (a terminal) in raw mode. Returns the function that restores the
 * terminal's mode and stops listening; call it before the process exits, or the shell
 * is left without echo.
 */
export function listenToKeys(input: NodeJS.ReadStream, handlers: KeyHandlers): () => void {
  if (!input.isTTY) return () => {};
  input.setRawMode(true);
  const onData = (chunk: Buffer): void => {
    for (const byte of chunk) {
      if (byte === 0x0d || byte === 0x0a) handlers.enter();
      else if (byte === 0x03 || byte === 0x71 /* q */) handlers.quit();
    }
  };
  input.on('data', onData);
  input.resume();
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    input.removeListener('data', onData);
    input.setRawMode(false);
    input.pause(); // so stdin no longer keeps the process alive
  };
}
