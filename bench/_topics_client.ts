/**
 * The raw-socket clients of bench/topics.ts, as their own process (`bun
 * bench/_topics_client.ts <publish URL>` or `deno run -A …`).
 * It holds one `node:net` socket per subscribed topic, decodes the chunked
 * body and the SSE events by hand (no `fetch`, no `EventSource`: a cheap
 * client), and publishes its own topics' events through the other
 * instance, so the publish time in each event and the arrival time are
 * read from one clock.
 *
 * It takes one JSON command per line on stdin and answers each with one
 * JSON line on stdout, `{ id, ok, … }`:
 *
 * - `subscribe { url, topics, probe? }`: opens a stream per topic on the
 *   instance at `url`; answers once every response head has come. With
 *   `probe: { redis, prefix }`, also subscribes one connection of its own
 *   to those topics' shard channels on that Redis: the time an event takes
 *   to reach Redis's pub/sub, apart from the time through the instance.
 * - `publish { seconds, rate, rounds, hot?, hotRate? }`: publishes `rate`
 *   events/s spread round-robin over its other topics and `hotRate`/s to
 *   the topic `hot`, each in one POST per 10 ms tick, one at a time, over a
 *   connection of its own, so each topic's events reach the store in
 *   order; waits for the deliveries; answers the latencies (per round of
 *   the publish time) and the check.
 * - `unsubscribe`: hangs up every stream.
 * - `churn { url, seconds, rate, hold, prefix, opening }`: opens `rate`
 *   streams/s on the instance at `url`,
 *   each to a topic of its own, each closed `hold` ms after its response
 *   head, at most `opening` at once.
 * - `exit`.
 *
 * Every event's data is `<topic> <sequence> <publish time>`; each stream
 * must see its own topic's sequence 0, 1, 2, … with nothing missing,
 * repeated or out of place.
 *
 * @module
 */

import { connect, type Socket } from "node:net";
import process from "node:process";
import { createInterface } from "node:readline";
import { quantile, sleep } from "./_util.ts";

const publishUrl = new URL(process.argv[process.argv.length - 1]);

const TICK_MS = 10;
/** Streams being opened at once while subscribing. */
const CONNECTING = 256;
const CONNECT_TIMEOUT_MS = 15_000;
/** How long deliveries may trail the last publish. */
const DRAIN_MS = 15_000;
/** First failures kept per command, in full. */
const KEEP_ERRORS = 5;

// ---------------------------------------------------------------------------
// Decoding a chunked SSE response by hand

interface Stream {
  head: string | undefined;
  chunked: boolean;
  /** Bytes left in the current chunk; -1 while reading a size line. */
  left: number;
  /** CR LF still to skip after a chunk's data. */
  skip: number;
  sizeLine: string;
  /** Event text not yet ended by a blank line. */
  text: string;
}

function newStream(): Stream {
  return {
    head: undefined,
    chunked: false,
    left: -1,
    skip: 0,
    sizeLine: "",
    text: "",
  };
}

/**
 * Feeds received text (latin1: one character per byte) to `stream`;
 * `onHead` gets the response head once, `onData` the data of each whole
 * event. Returns false once the body has ended (a last chunk).
 */
function feed(
  stream: Stream,
  input: string,
  onHead: (head: string) => void,
  onData: (data: string) => void,
): boolean {
  if (stream.head === undefined) {
    stream.text += input;
    const end = stream.text.indexOf("\r\n\r\n");
    if (end === -1) return true;
    const head = stream.head = stream.text.slice(0, end);
    stream.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
    input = stream.text.slice(end + 4);
    stream.text = "";
    onHead(head);
  }
  let body = "";
  let open = true;
  if (!stream.chunked) body = input;
  else {
    for (let i = 0; i < input.length;) {
      if (stream.left > 0) {
        const take = Math.min(stream.left, input.length - i);
        body += input.slice(i, i + take);
        i += take;
        stream.left -= take;
        if (stream.left === 0) {
          stream.left = -1;
          stream.skip = 2;
        }
      } else if (stream.skip > 0) {
        stream.skip--;
        i++;
      } else {
        const newline = input.indexOf("\n", i);
        if (newline === -1) {
          stream.sizeLine += input.slice(i);
          break;
        }
        const size = parseInt(stream.sizeLine + input.slice(i, newline), 16);
        stream.sizeLine = "";
        i = newline + 1;
        if (size === 0) {
          open = false;
          break;
        }
        stream.left = size;
      }
    }
  }
  let text = stream.text + body;
  for (let end; (end = text.indexOf("\n\n")) !== -1;) {
    const block = text.slice(0, end);
    text = text.slice(end + 2);
    for (const line of block.split("\n")) {
      if (line.startsWith("data: ")) onData(line.slice(6));
    }
  }
  stream.text = text;
  return open;
}

// ---------------------------------------------------------------------------
// Subscribers and the check of what they receive

interface Subscriber {
  topic: string;
  socket: Socket;
  /** Events published to its topic so far. */
  published: number;
  /** The sequence number it expects next. */
  next: number;
  closed: boolean;
}

/** What one publish phase collects. */
interface Phase {
  start: number;
  roundMs: number;
  rounds: number;
  hot: string | undefined;
  /** Latencies in ms, per round of their publish time. */
  quiet: number[][];
  hotLatencies: number[][];
  /** The quiet events' latencies to the Redis probe, per round. */
  probe: number[][];
  received: number;
  lost: number;
  repeated: number;
  misplaced: number;
  errors: string[];
}

const subscribers: Subscriber[] = [];
const byTopic = new Map<string, Subscriber>();
let phase: Phase | undefined;

function error(into: string[], message: string): void {
  if (into.length < KEEP_ERRORS) into.push(message);
}

function onEvent(sub: Subscriber, data: string, now: number): void {
  const current = phase;
  if (!current) return;
  const [topic, sequence, sent] = data.split(" ");
  const n = Number(sequence);
  if (topic !== sub.topic) {
    current.misplaced++;
    error(current.errors, `${sub.topic} got an event of ${topic}`);
    return;
  }
  current.received++;
  if (n !== sub.next) {
    if (n < sub.next) current.repeated++;
    else current.lost += n - sub.next;
    error(current.errors, `${sub.topic}: got event ${n}, want ${sub.next}`);
  }
  if (n >= sub.next) sub.next = n + 1;
  const at = Number(sent);
  (topic === current.hot ? current.hotLatencies : current.quiet)[
    roundOf(current, at)
  ].push(now - at);
}

/** The round of an event published at `at`. */
function roundOf(current: Phase, at: number): number {
  return Math.min(
    current.rounds - 1,
    Math.max(0, Math.floor((at - current.start) / current.roundMs)),
  );
}

/** Opens a stream of `topic` on the instance at `url`. */
function open(
  url: URL,
  topic: string,
  onHead: (head: string, at: number) => void,
  onData: (data: string, at: number) => void,
  onClose: (reason: string) => void,
): Socket {
  const { hostname: host, port } = url;
  const socket = connect({ host, port: Number(port), noDelay: true });
  const stream = newStream();
  socket.setEncoding("latin1");
  socket.once("connect", () => {
    socket.write(
      `GET /?topic=${
        encodeURIComponent(topic)
      } HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`,
    );
  });
  socket.on("data", (input: string) => {
    const at = performance.now();
    const open = feed(
      stream,
      input,
      (head) => onHead(head, at),
      (data) => onData(data, at),
    );
    if (!open) socket.destroy();
  });
  socket.once("error", (error: Error) => onClose(error.message));
  socket.once("close", () => onClose("closed"));
  return socket;
}

// ---------------------------------------------------------------------------
// The Redis probe: its own subscription to the topics' shard channels, so
// the time to Redis's pub/sub shows apart from the time through instance A.

let probe: Socket | undefined;

/**
 * One RESP value of `text` from `at`: the value and where the next one
 * starts, or undefined while it is incomplete.
 */
function resp(text: string, at: number): [unknown, number] | undefined {
  const end = text.indexOf("\r\n", at);
  if (end === -1) return undefined;
  const head = text.slice(at + 1, end);
  switch (text[at]) {
    case "*": {
      const items: unknown[] = [];
      let next = end + 2;
      for (let i = 0; i < Number(head); i++) {
        const item = resp(text, next);
        if (!item) return undefined;
        items.push(item[0]);
        next = item[1];
      }
      return [items, next];
    }
    case "$": {
      const length = Number(head);
      if (length < 0) return [null, end + 2];
      if (text.length < end + 2 + length + 2) return undefined;
      return [text.slice(end + 2, end + 2 + length), end + 2 + length + 2];
    }
    default: // + - :
      return [text[at] === "-" ? new Error(head) : head, end + 2];
  }
}

function command(words: string[]): string {
  return `*${words.length}\r\n` +
    words.map((word) => `$${word.length}\r\n${word}\r\n`).join("");
}

/** Subscribes the probe to `channels` on the Redis at `url`. */
function startProbe(url: URL, channels: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = probe = connect({
      host: url.hostname,
      port: Number(url.port),
      noDelay: true,
    });
    socket.setEncoding("latin1");
    let text = "";
    let subscribed = 0;
    socket.on("data", (input: string) => {
      const now = performance.now();
      text += input;
      let at = 0;
      for (let value; (value = resp(text, at));) {
        at = value[1];
        const [kind, , payload] = value[0] as [string, string, unknown];
        if (kind === "smessage") onProbe(payload as string, now);
        else if (kind === "ssubscribe") {
          if (++subscribed === channels.length) resolve();
        } else if (value[0] instanceof Error) reject(value[0]);
      }
      text = text.slice(at);
    });
    socket.once("error", reject);
    if (channels.length === 0) resolve();
    for (let i = 0; i < channels.length; i += 500) {
      socket.write(
        command(["SSUBSCRIBE", ...channels.slice(i, i + 500)]),
      );
    }
  });
}

/** A published entry, `[id, field, value, …]` as JSON, seen by the probe. */
function onProbe(payload: string, now: number): void {
  const current = phase;
  if (!current) return;
  const fields = JSON.parse(payload) as string[];
  const [topic, , sent] = fields[fields.indexOf("data") + 1].split(" ");
  if (topic === current.hot) return;
  const at = Number(sent);
  current.probe[roundOf(current, at)].push(now - at);
}

async function subscribe(
  url: URL,
  topics: string[],
  probeAt?: { redis: string; prefix: string },
): Promise<object> {
  const errors: string[] = [];
  let failed = 0;
  const start = performance.now();
  const one = (topic: string) =>
    new Promise<void>((resolve) => {
      let settled = false;
      const settle = (reason?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (reason !== undefined) {
          failed++;
          error(errors, `${topic}: ${reason}`);
        }
        resolve();
      };
      const timer = setTimeout(
        () => settle(`no response head within ${CONNECT_TIMEOUT_MS} ms`),
        CONNECT_TIMEOUT_MS,
      );
      const sub: Subscriber = {
        topic,
        socket: open(
          url,
          topic,
          (head) => {
            if (!head.startsWith("HTTP/1.1 200")) {
              settle(head.split("\r\n")[0]);
            } else settle();
          },
          (data, at) => onEvent(sub, data, at),
          (reason) => {
            if (!sub.closed) {
              sub.closed = true;
              if (phase) error(phase.errors, `${topic}: stream ${reason}`);
            }
            settle(reason);
          },
        ),
        published: 0,
        next: 0,
        closed: false,
      };
      subscribers.push(sub);
      byTopic.set(topic, sub);
    });
  // A bounded number being opened at once.
  let index = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONNECTING, topics.length) }, async () => {
      while (index < topics.length) await one(topics[index++]);
    }),
  );
  if (probeAt) {
    await startProbe(
      new URL(probeAt.redis),
      topics.map((topic) => `${probeAt.prefix}{t:${topic}}`),
    );
  }
  return {
    subscribed: topics.length - failed,
    failed,
    errors,
    ms: performance.now() - start,
  };
}

// ---------------------------------------------------------------------------
// Publishing

interface PublishCommand {
  seconds: number;
  rate: number;
  rounds: number;
  hot?: string;
  hotRate?: number;
}

/** What one publishing loop saw. */
interface Publisher {
  sent: number;
  lags: number[];
  roundTrips: number[];
  busyTicks: number;
  largestBatch: number;
  errors: string[];
}

/**
 * Publishes `rate` events/s for `seconds`, to `pick()`'s topic each, in one
 * POST per tick. One POST at a time, so each topic's events reach the
 * store in order; a tick that finds it still going leaves its events to
 * the next, larger, batch.
 */
async function publisher(
  start: number,
  seconds: number,
  rate: number,
  pick: () => Subscriber,
): Promise<Publisher> {
  const result: Publisher = {
    sent: 0,
    lags: [],
    roundTrips: [],
    busyTicks: 0,
    largestBatch: 0,
    errors: [],
  };
  let inFlight: Promise<void> | undefined;
  const end = start + seconds * 1_000;
  for (let due = start; due < end; due += TICK_MS) {
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const now = performance.now();
    result.lags.push(now - due);
    if (inFlight) {
      result.busyTicks++;
      continue;
    }
    const count = Math.floor(rate * (now - start) / 1_000) - result.sent;
    if (count <= 0) continue;
    const stamp = now.toFixed(3);
    const batch: [string, string][] = [];
    for (let i = 0; i < count; i++) {
      const sub = pick();
      batch.push([sub.topic, `${sub.topic} ${sub.published++} ${stamp}`]);
    }
    result.sent += count;
    result.largestBatch = Math.max(result.largestBatch, count);
    inFlight = fetch(new URL("/publish", publishUrl), {
      method: "POST",
      body: JSON.stringify(batch),
    }).then(async (response) => {
      const text = await response.text();
      if (!response.ok || Number(text) !== batch.length) {
        error(result.errors, `publish: ${response.status} ${text}`);
      }
      result.roundTrips.push(performance.now() - now);
    }, (reason) => error(result.errors, `publish: ${reason}`)).finally(() => {
      inFlight = undefined;
    });
  }
  await inFlight;
  return result;
}

/**
 * Publishes the quiet topics' events and the hot topic's in two loops,
 * each on a connection of its own, as two publishers would; then waits
 * for every delivery.
 */
async function publish(command: PublishCommand): Promise<object> {
  const { seconds, rate, rounds, hot, hotRate = 0 } = command;
  const hotSub = hot === undefined ? undefined : byTopic.get(hot);
  if (hot !== undefined && !hotSub) throw new Error(`not subscribed to ${hot}`);
  const quiet = subscribers.filter((sub) => sub !== hotSub && !sub.closed);
  const start = performance.now();
  const current: Phase = phase = {
    start,
    roundMs: seconds * 1_000 / rounds,
    rounds,
    hot,
    quiet: Array.from({ length: rounds }, () => []),
    hotLatencies: Array.from({ length: rounds }, () => []),
    probe: Array.from({ length: rounds }, () => []),
    received: 0,
    lost: 0,
    repeated: 0,
    misplaced: 0,
    errors: [],
  };
  const cpuBefore = process.cpuUsage();
  let cursor = 0;
  const [quietResult, hotResult] = await Promise.all([
    publisher(
      start,
      seconds,
      quiet.length ? rate : 0,
      () => quiet[cursor++ % quiet.length],
    ),
    hotSub
      ? publisher(start, seconds, hotRate, () => hotSub)
      : Promise.resolve(undefined),
  ]);
  const publishedAt = performance.now();
  // The deliveries still on their way.
  const expected = () => {
    let missing = 0;
    for (const sub of subscribers) {
      if (!sub.closed) missing += sub.published - sub.next;
    }
    return missing;
  };
  while (expected() > 0 && performance.now() - publishedAt < DRAIN_MS) {
    await sleep(5);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const wall = performance.now() - start;
  phase = undefined;
  let missing = 0;
  let closed = 0;
  for (const sub of subscribers) {
    if (sub.closed) closed++;
    if (sub.published > sub.next) {
      missing += sub.published - sub.next;
      error(
        current.errors,
        `${sub.topic}: ${sub.next} of ${sub.published} events arrived`,
      );
    }
  }
  const lags = [...quietResult.lags, ...(hotResult?.lags ?? [])];
  const roundTrips = (result: Publisher | undefined) =>
    result?.roundTrips.length
      ? [quantile(result.roundTrips, 0.5), quantile(result.roundTrips, 0.99)]
      : undefined;
  // Rounded to the microsecond: smaller lines for the parent to parse.
  const rounded = (rounds: number[][]) =>
    rounds.map((round) => round.map((ms) => Math.round(ms * 1_000) / 1_000));
  return {
    published: quietResult.sent + (hotResult?.sent ?? 0),
    quietPublished: quietResult.sent,
    hotPublished: hotResult?.sent ?? 0,
    received: current.received,
    lost: current.lost,
    missing,
    repeated: current.repeated,
    misplaced: current.misplaced,
    closed,
    errors: [
      ...quietResult.errors,
      ...(hotResult?.errors ?? []),
      ...current.errors,
    ],
    quiet: rounded(current.quiet),
    hot: rounded(current.hotLatencies),
    probe: rounded(current.probe),
    lagP99: quantile(lags, 0.99),
    lagMax: Math.max(...lags),
    quietRoundTrip: roundTrips(quietResult),
    hotRoundTrip: roundTrips(hotResult),
    busyTicks: quietResult.busyTicks + (hotResult?.busyTicks ?? 0),
    largestBatch: Math.max(
      quietResult.largestBatch,
      hotResult?.largestBatch ?? 0,
    ),
    drainMs: performance.now() - publishedAt,
    cpuMs: (cpu.user + cpu.system) / 1_000,
    wallMs: wall,
  };
}

function unsubscribe(): object {
  for (const sub of subscribers) {
    sub.closed = true;
    sub.socket.destroy();
  }
  probe?.destroy();
  probe = undefined;
  const count = subscribers.length;
  subscribers.length = 0;
  byTopic.clear();
  return { closed: count };
}

// ---------------------------------------------------------------------------
// Churn

interface ChurnCommand {
  /** The instance to open streams on. */
  url: string;
  seconds: number;
  rate: number;
  hold: number;
  prefix: string;
  /** Streams still opening at once; past it a tick's new ones are skipped. */
  opening: number;
}

async function churn(command: ChurnCommand): Promise<object> {
  const { seconds, rate, hold, prefix, opening } = command;
  const url = new URL(command.url);
  const errors: string[] = [];
  const heads: number[] = [];
  const lags: number[] = [];
  let started = 0;
  let completed = 0;
  let failed = 0;
  let skipped = 0;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const one = (topic: string) => {
    inFlight++;
    const opened = performance.now();
    let headed = false;
    let done = false;
    const finish = (reason?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (reason !== undefined) {
        failed++;
        error(errors, `${topic}: ${reason}`);
      } else completed++;
      socket.destroy();
      if (--inFlight === 0) drained?.();
    };
    const timer = setTimeout(
      () => finish(`no response head within ${CONNECT_TIMEOUT_MS} ms`),
      CONNECT_TIMEOUT_MS,
    );
    const socket = open(
      url,
      topic,
      (head, at) => {
        headed = true;
        if (!head.startsWith("HTTP/1.1 200")) {
          return finish(head.split("\r\n")[0]);
        }
        heads.push(at - opened);
        clearTimeout(timer);
        setTimeout(() => finish(), hold);
      },
      () => {},
      (reason) => finish(headed ? undefined : reason),
    );
  };
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1_000;
  for (let due = start; due < end; due += TICK_MS) {
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const now = performance.now();
    lags.push(now - due);
    const count = Math.floor(rate * (now - start) / 1_000) - started -
      skipped;
    for (let i = 0; i < count; i++) {
      if (inFlight >= opening) skipped++;
      else one(`${prefix}${started++}`);
    }
  }
  const wall = performance.now() - start;
  if (inFlight > 0) {
    await Promise.race([
      new Promise<void>((resolve) => drained = resolve),
      sleep(CONNECT_TIMEOUT_MS + hold),
    ]);
  }
  const cpu = process.cpuUsage(cpuBefore);
  return {
    started,
    completed,
    failed,
    skipped,
    unfinished: inFlight,
    errors,
    rate: started / (wall / 1_000),
    headP50: heads.length ? quantile(heads, 0.5) : 0,
    headP99: heads.length ? quantile(heads, 0.99) : 0,
    lagP99: quantile(lags, 0.99),
    lagMax: Math.max(...lags),
    cpuMs: (cpu.user + cpu.system) / 1_000,
    wallMs: performance.now() - start,
  };
}

// ---------------------------------------------------------------------------

type Command =
  | {
    id: number;
    cmd: "subscribe";
    url: string;
    topics: string[];
    probe?: { redis: string; prefix: string };
  }
  | ({ id: number; cmd: "publish" } & PublishCommand)
  | { id: number; cmd: "unsubscribe" }
  | ({ id: number; cmd: "churn" } & ChurnCommand)
  | { id: number; cmd: "exit" };

async function run(command: Command): Promise<object> {
  switch (command.cmd) {
    case "subscribe":
      return await subscribe(
        new URL(command.url),
        command.topics,
        command.probe,
      );
    case "publish":
      return await publish(command);
    case "unsubscribe":
      return unsubscribe();
    case "churn":
      return await churn(command);
    case "exit":
      unsubscribe();
      setTimeout(() => process.exit(0), 10);
      return {};
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let id = 0;
  try {
    const command = JSON.parse(line) as Command;
    id = command.id;
    const result = await run(command);
    process.stdout.write(JSON.stringify({ id, ok: true, ...result }) + "\n");
  } catch (error) {
    process.stdout.write(
      JSON.stringify({ id, ok: false, error: String(error) }) + "\n",
    );
  }
});
// The parent is gone: so are we.
lines.on("close", () => process.exit(0));
console.log("ready");
