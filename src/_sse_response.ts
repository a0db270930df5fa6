/**
 * The Response of `createSSEStream`, which tells its body once JavaScript
 * is handed the body's stream (`body`) or what is read from it (`clone()`,
 * `arrayBuffer()`, …). Until then only the runtime's own server (Deno.serve,
 * Bun.serve) reads it, inside the runtime, and only writes the bytes out,
 * so a hub's event, encoded once, goes to every such stream without a copy
 * per stream (see flush in _coalescer.ts): 1.37× → 1.19× plain streaming's
 * CPU per delivery on Deno at 10,000 subscribers (bench/fanout.ts).
 *
 * @module
 */

/** What the response tells: its body was exposed to JavaScript. */
export interface Exposable {
  exposed: boolean;
}

// What hands a Response's body, or bytes read from it, to JavaScript.
const EXPOSING = [
  "arrayBuffer",
  "blob",
  "bytes",
  "clone",
  "formData",
  "json",
  "text",
] as const;

// Whether SSEResponse sees JavaScript take a body: its prototype's getter
// and methods stand in front of the runtime's, unless the runtime has none
// on the prototype chain or puts them on each Response (workerd has none
// there), where every body counts as exposed. Known at the first Response.
let watchable = false;
let watched: boolean | undefined;

/** The getter of `name` on `object` or its prototypes. */
function getterOf(object: object | null, name: string) {
  for (; object !== null; object = Object.getPrototypeOf(object)) {
    const descriptor = Object.getOwnPropertyDescriptor(object, name);
    if (descriptor) return descriptor.get;
  }
  return undefined;
}

/** A Response that marks `body` exposed once JavaScript takes its bytes. */
export class SSEResponse extends Response {
  #body: Exposable;

  constructor(
    stream: ReadableStream<Uint8Array>,
    init: ResponseInit,
    body: Exposable,
  ) {
    super(stream, init);
    this.#body = body;
    watched ??= watchable &&
      !["body", ...EXPOSING].some((name) => Object.hasOwn(this, name));
    if (!watched) body.exposed = true;
  }

  static {
    const { prototype } = Response;
    const body = getterOf(prototype, "body");
    if (body !== undefined) SSEResponse.#watch(prototype, body);
  }

  // Puts the body's getter and the reads in front of the runtime's.
  static #watch(prototype: Response, body: () => unknown): void {
    const expose = (response: unknown) => {
      if (#body in (response as object)) {
        (response as SSEResponse).#body.exposed = true;
      }
    };
    Object.defineProperty(SSEResponse.prototype, "body", {
      configurable: true,
      enumerable: true,
      get(this: Response) {
        expose(this);
        return body.call(this);
      },
    });
    for (const name of EXPOSING) {
      const method = (prototype as unknown as Record<string, unknown>)[name];
      if (typeof method !== "function") continue;
      Object.defineProperty(SSEResponse.prototype, name, {
        configurable: true,
        writable: true,
        value(this: Response, ...args: unknown[]) {
          expose(this);
          return method.apply(this, args);
        },
      });
    }
    watchable = true;
  }
}
