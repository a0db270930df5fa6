// How a child server ends: it runs until its parent closes its stdin
// (`stop()` of tests/support/child.ts), then closes what it holds and exits.
import process from "node:process";

/** Once stdin ends or closes, runs every `close` and then exits with 0. */
export function exitWhenStdinCloses(...closers: (() => unknown)[]): void {
  let stopping: Promise<unknown> | undefined;
  const stop = () => {
    stopping ??= Promise.all(closers.map((close) => close())).then(() =>
      process.exit(0)
    );
  };
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
}
