/** stdout carries results only: exactly one JSON document with --json, nothing else. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A warning for the person at the terminal: on stderr, so --json output and pipes stay clean. */
export function printWarning(text: string): void {
  process.stderr.write(`warning: ${text}\n`);
}

export function printText(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/**
 * A progress line on stderr, only when stderr is a terminal: piped output and --json stay clean.
 * Redraws at most every 100 ms.
 */
export function progressLine(enabled = process.stderr.isTTY === true): { update(text: string): void; done(): void } {
  let last = 0;
  let shown = false;
  return {
    update(text: string) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      process.stderr.write(`\r\x1b[2K${text}`);
    },
    done() {
      if (enabled && shown) process.stderr.write('\r\x1b[2K');
    },
  };
}
