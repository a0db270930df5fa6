// node:buffer and node:net for the workerd bundle of the core tests: only
// what tests/support/raw_client.ts (the raw HTTP/1.1 client) uses, so that its one
// definition runs in workerd too. The socket is a real TCP connection,
// from workerd's `cloudflare:sockets`.
/// <reference types="./_cloudflare_sockets.d.ts" />
import { connect as connectTCP } from "cloudflare:sockets";

const encoder = new TextEncoder();

/** Bytes with the string search and decoding tests/support/raw_client.ts uses. */
class Bytes extends Uint8Array<ArrayBuffer> {
  override indexOf(search: string | number, from = 0): number {
    if (typeof search === "number") return super.indexOf(search, from);
    const needle = encoder.encode(search);
    outer: for (let i = from; i <= this.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) {
        if (this[i + j] !== needle[j]) continue outer;
      }
      return i;
    }
    return -1;
  }

  override toString(encoding: "latin1" | "utf8" = "utf8"): string {
    if (encoding !== "latin1") return new TextDecoder().decode(this);
    let text = "";
    for (const byte of this) text += String.fromCharCode(byte);
    return text;
  }
}

const view = (bytes: Uint8Array<ArrayBuffer>) =>
  new Bytes(bytes.buffer, bytes.byteOffset, bytes.length);

export type Buffer = Bytes;

/** The Buffer functions tests/support/raw_client.ts calls. */
export const Buffer = {
  alloc: (size: number): Bytes => view(new Uint8Array(size)),
  from: (text: string): Bytes => view(encoder.encode(text)),
  concat(list: Uint8Array[]): Bytes {
    const out = view(
      new Uint8Array(list.reduce((sum, part) => sum + part.length, 0)),
    );
    let offset = 0;
    for (const part of list) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  },
};

type Listener = (value?: unknown) => void;

/** The net.Socket methods tests/support/raw_client.ts calls. */
export class Socket {
  #listeners = new Map<string, Listener[]>();
  #socket: ReturnType<typeof connectTCP>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(port: number, hostname: string) {
    this.#socket = connectTCP({ hostname, port });
    this.#writer = this.#socket.writable.getWriter();
    this.#read().catch((error) => this.#emit("error", error))
      .finally(() => this.#emit("close"));
  }

  async #read(): Promise<void> {
    const reader = this.#socket.readable.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      this.#emit("data", view(value as Uint8Array<ArrayBuffer>));
    }
  }

  #emit(event: string, value?: unknown): void {
    for (const listener of this.#listeners.get(event) ?? []) listener(value);
  }

  on(event: "data" | "close" | "error", listener: Listener): this {
    this.#listeners.set(event, [
      ...this.#listeners.get(event) ?? [],
      listener,
    ]);
    return this;
  }

  write(data: string | Uint8Array): void {
    this.#writer.write(typeof data === "string" ? encoder.encode(data) : data)
      .catch((error) => this.#emit("error", error));
  }

  destroy(): void {
    this.#socket.close().catch(() => {});
  }
}

export function connect(port: number, hostname: string): Socket {
  return new Socket(port, hostname);
}
