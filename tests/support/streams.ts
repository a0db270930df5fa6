// Streams made from values, for tests that feed ssekit a body.

/** A ReadableStream of the given chunks (ReadableStream.from is not typed everywhere). */
export function streamOf<T>(chunks: Iterable<T>): ReadableStream<T> {
  return new ReadableStream<T>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}
