// A raw HTTP/1.1 client over node:net: it shows the body exactly as it
// crosses the wire, and closing it is a real client disconnect.
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
}

export class RawClient {
  readonly response: Promise<RawResponse>;
  /** Resolves when the server ends the body (the last chunk arrives). */
  readonly ended: Promise<void>;
  /** Resolves when the socket is closed, by either side. */
  readonly closed: Promise<void>;
  body = "";
  #socket: Socket;
  #raw = Buffer.alloc(0);
  #decoder = new TextDecoder();
  #head?: RawResponse;
  #waiters: (() => void)[] = [];
  #resolveHead!: (head: RawResponse) => void;
  #resolveEnded!: () => void;

  constructor(
    url: string,
    headers: Record<string, string> = {},
    { method = "GET", body }: { method?: string; body?: string } = {},
  ) {
    const { hostname, port, pathname, search } = new URL(url);
    this.response = new Promise((resolve) => this.#resolveHead = resolve);
    this.ended = new Promise((resolve) => this.#resolveEnded = resolve);
    this.#socket = connect(Number(port), hostname);
    this.closed = new Promise((resolve) =>
      this.#socket.on("close", () => resolve())
    );
    this.#socket.on("error", () => {});
    const lines = [
      `${method} ${pathname}${search} HTTP/1.1`,
      `Host: ${hostname}:${port}`,
    ];
    const bytes = body === undefined ? undefined : Buffer.from(body);
    if (bytes) lines.push(`Content-Length: ${bytes.length}`);
    for (const [name, value] of Object.entries(headers)) {
      lines.push(`${name}: ${value}`);
    }
    this.#socket.write(lines.join("\r\n") + "\r\n\r\n");
    if (bytes) this.#socket.write(bytes);
    this.#socket.on("data", (data: Buffer) => this.#receive(data));
  }

  #receive(data: Buffer): void {
    this.#raw = Buffer.concat([this.#raw, data]);
    if (!this.#head) {
      const end = this.#raw.indexOf("\r\n\r\n");
      if (end === -1) return;
      const [statusLine, ...fields] = this.#raw.subarray(0, end).toString(
        "latin1",
      ).split("\r\n");
      const headers = new Map<string, string>();
      for (const field of fields) {
        const colon = field.indexOf(":");
        headers.set(
          field.slice(0, colon).trim().toLowerCase(),
          field.slice(colon + 1).trim(),
        );
      }
      this.#head = { status: Number(statusLine.split(" ")[1]), headers };
      this.#raw = this.#raw.subarray(end + 4);
      this.#resolveHead(this.#head);
    }
    const length = this.#head.headers.get("content-length");
    if (length !== undefined) {
      // A server that already had the whole body may send it with a length.
      if (this.#raw.length < Number(length)) return;
      this.body = this.#decoder.decode(this.#raw.subarray(0, Number(length)));
      this.#resolveEnded();
      for (const wake of this.#waiters.splice(0)) wake();
      return;
    }
    for (;;) {
      const lineEnd = this.#raw.indexOf("\r\n");
      if (lineEnd === -1) return;
      const size = parseInt(
        this.#raw.subarray(0, lineEnd).toString("latin1"),
        16,
      );
      if (this.#raw.length < lineEnd + 2 + size + 2) return;
      if (size === 0) {
        this.#resolveEnded();
        return;
      }
      this.body += this.#decoder.decode(
        this.#raw.subarray(lineEnd + 2, lineEnd + 2 + size),
        {
          stream: true,
        },
      );
      this.#raw = this.#raw.subarray(lineEnd + 2 + size + 2);
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  /** Waits until the body contains `text`; rejects after `ms`. */
  async waitFor(text: string, ms = 5_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!this.body.includes(text)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${JSON.stringify(text)}; body so far: ${
            JSON.stringify(this.body)
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return this.body;
  }

  /** Disconnects, as a browser tab being closed does. */
  close(): void {
    this.#socket.destroy();
  }
}
