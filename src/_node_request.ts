/**
 * The `Request` that `ssekit/node` makes of an `IncomingMessage`
 * (internal): its URL, headers, signal and body.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { requestBody } from "./_node_request_body.ts";
import { bodyConsumed, parsedBody } from "./_node_parsed_body.ts";

// RFC 9112 §3.2.2: in absolute-form the target names the authority, and the
// Host header is then ignored.
const ABSOLUTE_FORM = /^[a-z][a-z\d+.-]*:\/\//i;
// A Host header with these would change which part of the URL it becomes.
const NOT_AN_AUTHORITY = /[\s/?#@\\]/;

function localAuthority(socket: Socket): string {
  const address = socket.localAddress;
  if (address === undefined) return "localhost";
  const host = address.includes(":") ? `[${address}]` : address;
  return `${host}:${socket.localPort}`;
}

function requestURL(req: IncomingMessage): string {
  const target = req.url ?? "/";
  if (ABSOLUTE_FORM.test(target)) return target;
  const scheme = (req.socket as { encrypted?: boolean }).encrypted
    ? "https"
    : "http";
  // HTTP/1.0 clients may send no Host; the address they reached stands in.
  const host = req.headers.host || localAuthority(req.socket);
  if (NOT_AN_AUTHORITY.test(host)) {
    throw new TypeError(`Invalid Host header: ${JSON.stringify(host)}`);
  }
  // Asterisk-form (`OPTIONS *`) addresses the server as a whole, whose
  // closest URL is the root.
  return `${scheme}://${host}${target.startsWith("/") ? target : "/"}`;
}

export function toRequest(
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): Request {
  const headers: [string, string][] = [];
  const raw = req.rawHeaders;
  // rawHeaders keeps repeated fields apart; Request joins them as fetch does.
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
  const init: RequestInit & { duplex?: "half" } = {
    method: req.method,
    headers,
    signal,
  };
  if (req.method !== "GET" && req.method !== "HEAD") {
    if (bodyConsumed(req)) init.body = parsedBody(req, headers);
    else init.body = requestBody(req, res);
    init.duplex = "half";
  }
  return new Request(requestURL(req), init);
}
