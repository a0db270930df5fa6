/**
 * The followers of bench/relays.ts, as their own process (`bun
 * bench/_relays_client.ts` or `deno run -A …`): one raw `node:net` client
 * per generation, which decodes the chunked body and the SSE fields by hand
 * (a cheap client, and one that shows the stream as it crosses the wire).
 *
 * It takes one JSON command per line on stdin and answers each with one
 * JSON line on stdout, `{ id, ok, … }` (after a first line `ready`):
 *
 * - `round { instances, upstream, topics, starts, tokens, rate, ramp,
 *   reconnects, pause, budget }`: for each topic, at a time spread over
 *   `ramp` ms, `POST /start` on instance `starts[i]` (a `hub.relay` of an
 *   upstream reply of `tokens` tokens at `rate` a second), then follows it
 *   on a random instance with `Last-Event-ID: start`; `reconnects` times
 *   per generation, at random times within its length, hangs up, waits up
 *   to `pause` ms and resumes on a random instance with the last id it
 *   got. Once a stream has ended (its last chunk), a resume with the last
 *   id on a random instance must get 204. Answers the check and the
 *   latencies once every generation is over, or after `budget` ms.
 * - `exit`.
 *
 * Each token's data is `"<topic> <index> <send time>"` (a JSON string):
 * every generation must get index 0, 1, 2, … of its own topic once each,
 * in order, and no error or reset event. Latency is the upstream's send
 * time → the token's arrival here, on the upstream's clock (this process
 * measures its offset from it with `GET /clock` first). A token sent while
 * its follower was connected (after the response head came) is live;
 * the others came from history on a resume, and are counted apart.
 *
 * @module
 */

import { connect, type Socket } from "node:net";
import process from "node:process";
import { createInterface } from "node:readline";

/** Wall-clock milliseconds with fractions. */
const now = () => performance.timeOrigin + performance.now();

/** A follower whose socket closed without its doing waits this long. */
const REOPEN_MS = 100;
/** Attempts per generation at a connection that failed (refused, 5xx). */
const MAX_FAILED_CONNECTS = 20;
/** First failures kept per round, in full. */
const KEEP_ERRORS = 8;
/** Clock samples taken to find the offset from the upstream's clock. */
const CLOCK_SAMPLES = 20;

interface RoundCommand {
  instances: string[];
  upstream: string;
  topics: string[];
  /** The instance (index into `instances`) each generation starts on. */
  starts: number[];
  tokens: number;
  rate: number;
  ramp: number;
  reconnects: number;
  pause: number;
  budget: number;
}

type GenState =
  | "waiting"
  | "starting"
  | "following"
  | "paused"
  | "probing"
  | "done";

interface Gen {
  readonly topic: string;
  readonly startOn: number;
  readonly counts: Uint8Array;
  state: GenState;
  started: boolean;
  /** The id to resume after: the run's start, then the last id received. */
  lastId: string;
  /** The highest index received so far, -1 before the first. */
  high: number;
  socket: Socket | undefined;
  /** The instance the socket is connected to. */
  on: number;
  /** When its current response head came (upstream clock), for "live". */
  headAt: number;
  /** When it hung up on purpose, to time the resume. */
  hungUpAt: number;
  reconnectsLeft: number[];
  failedConnects: number;
  ended: boolean;
  /** Still going when the round's budget ran out. */
  unfinished: boolean;
  probe: number | undefined;
  timers: ReturnType<typeof setTimeout>[];
}

/** What a round found, as sent back to the driver. */
export interface RoundResult {
  generations: number;
  started: number;
  tokens: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  misplaced: number;
  errorEvents: number;
  resets: number;
  ended: number;
  probed204: number;
  connects: number;
  resumes: number;
  dropped: number;
  failedConnects: number;
  unfinished: number;
  /** Tokens not yet received by generations unfinished at the budget. */
  pending: number;
  /** Generations over before their stream ended (connections kept failing). */
  unended: number;
  /** Ended generations whose resume after the end did not get 204. */
  probeFailed: number;
  deliveredBy: number[];
  /** Live latencies, ms, and their send times, s since the round began. */
  live: number[];
  liveAt: number[];
  /** Latencies of tokens that came from history on a resume, ms. */
  replayed: number[];
  /** Hang-up → first event of the resumed stream, ms. */
  resumeMs: number[];
  clockOffset: number;
  clockRtt: number;
  errors: string[];
}

// ---------------------------------------------------------------------------
// Decoding a chunked SSE response by hand

interface Decoder {
  status: number | undefined;
  headText: string;
  chunked: boolean;
  /** Bytes left in the current chunk; -1 while reading a size line. */
  left: number;
  /** CR LF still to skip after a chunk's data. */
  skip: number;
  sizeLine: string;
  /** Body text not yet split into lines. */
  text: string;
  /** The event being read. */
  data: string | undefined;
  type: string;
  finished: boolean;
}

function newDecoder(): Decoder {
  return {
    status: undefined,
    headText: "",
    chunked: false,
    left: -1,
    skip: 0,
    sizeLine: "",
    text: "",
    data: undefined,
    type: "",
    finished: false,
  };
}

interface Sink {
  head(status: number): void;
  id(id: string): void;
  event(type: string, data: string): void;
}

/** Feeds latin1 text (one character per byte) to `decoder`. */
function feed(decoder: Decoder, input: string, sink: Sink): void {
  if (decoder.status === undefined) {
    decoder.headText += input;
    const end = decoder.headText.indexOf("\r\n\r\n");
    if (end === -1) return;
    const head = decoder.headText.slice(0, end);
    decoder.status = Number(head.slice(9, 12));
    decoder.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
    input = decoder.headText.slice(end + 4);
    decoder.headText = "";
    sink.head(decoder.status);
    // A body without chunks (a 204, a 404 with a length) is not followed.
    if (!decoder.chunked) {
      decoder.finished = true;
      return;
    }
  }
  let body = "";
  for (let i = 0; i < input.length && !decoder.finished;) {
    if (decoder.left > 0) {
      const take = Math.min(decoder.left, input.length - i);
      body += input.slice(i, i + take);
      i += take;
      decoder.left -= take;
      if (decoder.left === 0) {
        decoder.left = -1;
        decoder.skip = 2;
      }
    } else if (decoder.skip > 0) {
      decoder.skip--;
      i++;
    } else {
      const newline = input.indexOf("\n", i);
      if (newline === -1) {
        decoder.sizeLine += input.slice(i);
        break;
      }
      const size = parseInt(decoder.sizeLine + input.slice(i, newline), 16);
      decoder.sizeLine = "";
      i = newline + 1;
      if (size === 0) decoder.finished = true;
      else decoder.left = size;
    }
  }
  let text = decoder.text + body;
  for (let end; (end = text.indexOf("\n")) !== -1;) {
    const line = text.slice(0, end);
    text = text.slice(end + 1);
    if (line === "") {
      if (decoder.data !== undefined) sink.event(decoder.type, decoder.data);
      decoder.data = undefined;
      decoder.type = "";
    } else if (line.startsWith("data: ")) {
      decoder.data = decoder.data === undefined
        ? line.slice(6)
        : `${decoder.data}\n${line.slice(6)}`;
    } else if (line.startsWith("id: ")) sink.id(line.slice(4));
    else if (line.startsWith("event: ")) decoder.type = line.slice(7);
  }
  decoder.text = text;
}

// ---------------------------------------------------------------------------
// A round

async function clockOffset(
  upstream: string,
): Promise<{ offset: number; rtt: number }> {
  let best = { offset: 0, rtt: Infinity };
  for (let i = 0; i < CLOCK_SAMPLES; i++) {
    const before = now();
    const response = await fetch(new URL("/clock", upstream));
    const theirs = Number(await response.text());
    const after = now();
    if (after - before < best.rtt) {
      best = { offset: theirs - (before + after) / 2, rtt: after - before };
    }
  }
  return best;
}

async function round(command: RoundCommand): Promise<RoundResult> {
  const { instances, topics, tokens, rate, reconnects, pause } = command;
  const { offset, rtt } = await clockOffset(command.upstream);
  const clock = () => now() + offset;
  const begin = clock();
  const lengthMs = (tokens / rate) * 1_000;
  const result: RoundResult = {
    generations: topics.length,
    started: 0,
    tokens,
    received: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    misplaced: 0,
    errorEvents: 0,
    resets: 0,
    ended: 0,
    probed204: 0,
    connects: 0,
    resumes: 0,
    dropped: 0,
    failedConnects: 0,
    unfinished: 0,
    pending: 0,
    unended: 0,
    probeFailed: 0,
    deliveredBy: instances.map(() => 0),
    live: [],
    liveAt: [],
    replayed: [],
    resumeMs: [],
    clockOffset: offset,
    clockRtt: rtt,
    errors: [],
  };
  const error = (message: string) => {
    if (result.errors.length < KEEP_ERRORS) result.errors.push(message);
  };
  const random = (n: number) => Math.floor(Math.random() * n);
  let open = topics.length;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => allDone = resolve);

  const gens: Gen[] = topics.map((topic, i) => ({
    topic,
    startOn: command.starts[i],
    counts: new Uint8Array(tokens),
    state: "waiting",
    started: false,
    lastId: "",
    high: -1,
    socket: undefined,
    on: 0,
    headAt: 0,
    hungUpAt: 0,
    reconnectsLeft: [],
    failedConnects: 0,
    ended: false,
    unfinished: false,
    probe: undefined,
    timers: [],
  }));

  const finish = (gen: Gen) => {
    if (gen.state === "done") return;
    gen.state = "done";
    gen.socket?.destroy();
    gen.socket = undefined;
    for (const timer of gen.timers) clearTimeout(timer);
    if (--open === 0) allDone();
  };
  const later = (gen: Gen, ms: number, run: () => void) => {
    gen.timers.push(setTimeout(run, ms));
  };

  // A connection failed or was refused: try again, a bounded number of times.
  const retry = (gen: Gen, why: string) => {
    result.failedConnects++;
    error(`${gen.topic}: ${why}`);
    if (++gen.failedConnects > MAX_FAILED_CONNECTS) return finish(gen);
    gen.state = "paused";
    later(gen, REOPEN_MS, () => connectTo(gen));
  };

  function onToken(gen: Gen, data: string, at: number) {
    // `"<topic> <index> <sent>"`, a JSON string of plain characters.
    const [topic, index, sent] = data.slice(1, -1).split(" ");
    if (topic !== gen.topic) {
      result.misplaced++;
      error(`${gen.topic} got a token of ${topic}`);
      return;
    }
    const i = Number(index);
    if (!(i >= 0 && i < tokens)) {
      error(`${gen.topic}: token ${index} out of range`);
      return;
    }
    result.received++;
    result.deliveredBy[gen.on]++;
    if (gen.counts[i] > 0) {
      result.duplicated++;
      error(`${gen.topic}: token ${i} again`);
    } else if (i < gen.high) {
      result.outOfOrder++;
      error(`${gen.topic}: token ${i} after ${gen.high}`);
    }
    if (gen.counts[i] < 255) gen.counts[i]++;
    if (i > gen.high) gen.high = i;
    const latency = at - Number(sent);
    if (Number(sent) >= gen.headAt) {
      result.live.push(Math.round(latency * 100) / 100);
      result.liveAt.push(Math.round((Number(sent) - begin) / 100) / 10);
    } else {
      result.replayed.push(Math.round(latency * 100) / 100);
    }
  }

  function connectTo(gen: Gen) {
    if (gen.state === "done") return;
    const probing = gen.ended;
    gen.state = probing ? "probing" : "following";
    gen.on = random(instances.length);
    const url = new URL(instances[gen.on]);
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      noDelay: true,
    });
    gen.socket = socket;
    result.connects++;
    const decoder = newDecoder();
    let firstEvent = true;
    const resuming = gen.hungUpAt > 0;
    const sink: Sink = {
      head(status) {
        gen.headAt = clock();
        if (probing) {
          gen.probe = status;
          if (status === 204) result.probed204++;
          else error(`${gen.topic}: a resume after the end got ${status}`);
          return finish(gen);
        }
        if (status === 204) {
          // Ended, and this client has it all: the check below says.
          gen.ended = true;
        } else if (status !== 200) {
          socket.destroy();
          gen.socket = undefined;
          retry(gen, `GET /follow answered ${status}`);
        }
      },
      id(id) {
        gen.lastId = id;
      },
      event(type, data) {
        const at = clock();
        if (firstEvent && resuming) {
          result.resumeMs.push(at - gen.hungUpAt);
          firstEvent = false;
        }
        if (type === "error") {
          result.errorEvents++;
          error(`${gen.topic}: event: error ${data}`);
        } else if (type === "reset") {
          result.resets++;
          error(`${gen.topic}: event: reset ${data}`);
        } else onToken(gen, data, at);
      },
    };
    socket.setEncoding("latin1");
    socket.on("data", (text: string) => {
      if (gen.socket !== socket) return;
      feed(decoder, text, sink);
      if (decoder.finished && gen.socket === socket && !probing) {
        // The stream ended (its last chunk, or a 204): resume once more,
        // which must find nothing after the end.
        if (decoder.status === 200 || decoder.status === 204) {
          gen.ended = true;
          result.ended++;
          socket.destroy();
          gen.socket = undefined;
          connectTo(gen);
        }
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (gen.socket !== socket) return;
      gen.socket = undefined;
      if (gen.state === "done") return;
      // Closed by the other side before the end: resume, as EventSource would.
      if (decoder.status === undefined) {
        return retry(gen, "the connection closed before a response");
      }
      result.dropped++;
      error(`${gen.topic}: stream closed before its end`);
      gen.state = "paused";
      gen.hungUpAt = clock();
      later(gen, REOPEN_MS, () => connectTo(gen));
    });
    socket.write(
      `GET /follow?topic=${encodeURIComponent(gen.topic)} HTTP/1.1\r\n` +
        `Host: ${url.host}\r\nAccept: text/event-stream\r\n` +
        `Last-Event-ID: ${gen.lastId}\r\n\r\n`,
    );
  }

  // Hangs up and resumes on a random instance after a pause.
  function hangUp(gen: Gen) {
    if (gen.state !== "following" || gen.ended) return;
    gen.socket?.destroy();
    gen.socket = undefined;
    gen.state = "paused";
    gen.hungUpAt = clock();
    result.resumes++;
    later(gen, random(pause + 1), () => connectTo(gen));
  }

  async function start(gen: Gen) {
    gen.state = "starting";
    const search = new URLSearchParams({
      topic: gen.topic,
      tokens: String(tokens),
      rate: String(rate),
    });
    try {
      const response = await fetch(
        new URL(`/start?${search}`, instances[gen.startOn]),
        { method: "POST" },
      );
      if (!response.ok) {
        error(
          `${gen.topic}: /start ${response.status} ${await response.text()}`,
        );
        return finish(gen);
      }
      const { start } = await response.json() as { start: string };
      if (gen.state !== "starting") return; // The budget ran out meanwhile.
      result.started++;
      gen.started = true;
      gen.lastId = start;
      for (let k = 0; k < reconnects; k++) {
        later(gen, Math.random() * lengthMs, () => hangUp(gen));
      }
      connectTo(gen);
    } catch (cause) {
      error(`${gen.topic}: /start failed: ${cause}`);
      finish(gen);
    }
  }

  const starts = gens.map((gen, i) =>
    setTimeout(
      () => void start(gen),
      gens.length > 1 ? (i / (gens.length - 1)) * command.ramp : 0,
    )
  );
  const budget = setTimeout(() => {
    for (const gen of gens) {
      if (gen.state !== "done") {
        result.unfinished++;
        gen.unfinished = true;
        error(
          `${gen.topic}: unfinished (${gen.state}) when the budget ran out`,
        );
        finish(gen);
      }
    }
  }, command.budget);
  await finished;
  clearTimeout(budget);
  for (const timer of starts) clearTimeout(timer);

  // Lost: missing from a stream that ended. A generation that did not
  // start, or had not ended when the budget ran out, is counted apart.
  for (const gen of gens.filter((gen) => gen.started)) {
    let missing = 0;
    for (const count of gen.counts) if (count === 0) missing++;
    if (gen.unfinished) {
      result.pending += missing;
      continue;
    }
    if (!gen.ended) result.unended++;
    else if (gen.probe !== 204) result.probeFailed++;
    result.lost += missing;
    if (missing > 0) {
      error(`${gen.topic}: ${missing} of ${tokens} tokens never came`);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// Commands

function reply(message: object): void {
  process.stdout.write(JSON.stringify(message) + "\n");
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const { id, cmd, ...rest } = JSON.parse(line) as {
    id: number;
    cmd: string;
  } & RoundCommand;
  if (cmd === "exit") process.exit(0);
  try {
    if (cmd !== "round") throw new TypeError(`unknown command ${cmd}`);
    reply({ id, ok: true, ...await round(rest) });
  } catch (cause) {
    reply({ id, ok: false, error: String(cause) });
  }
});
lines.on("close", () => process.exit(0));
reply({ ready: true });
