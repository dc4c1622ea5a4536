// The agent's listener on its unix socket. Bun.listen, not Bun.serve: the peer check needs each
// connection's fd (SO_PEERCRED), which Bun.serve does not expose. So the HTTP framing is our own
// (http-framing.ts) and this file is only the socket part: check the peer at accept, collect the
// request within a deadline (once its head is read, holding its bytes only if the agent's budget
// allows: `reserve`), hand it to the handler, write the answer, close.

import { formatAnswer, type HttpAnswer, type HttpRequest, readRequest } from "./http-framing.ts";
import type { PeerCredentials } from "./peer-credentials.ts";

/** A client that has not sent its whole request by then is answered 408 and dropped. */
export const READ_DEADLINE_MS = 10_000;
/** A client that does not read its answer by then is dropped. */
export const WRITE_DEADLINE_MS = 10_000;
/** After an early refusal, how long unread request bytes are drained (see `refuse`). */
const DRAIN_MS = 1_000;

/** Why a connection got no handler (a bounded set: it becomes a metric label). */
export const REJECTIONS = ["peer", "malformed", "too_large", "timeout"] as const;
export type Rejection = (typeof REJECTIONS)[number];

/** Bytes held for a request from its head until its connection is done; `release` gives them back. */
export type Reservation = { readonly release: () => void } | { readonly answer: HttpAnswer };

export interface ListenerOptions {
  readonly peerOf: (fd: number) => PeerCredentials | undefined;
  readonly admits: (peer: PeerCredentials) => boolean;
  readonly handler: (request: HttpRequest) => Promise<HttpAnswer>;
  readonly rejected: (why: Rejection) => void;
  /**
   * Asked once per request, as soon as its head is read (before its body is taken in), whether
   * `bytes` (the whole request) may be held for a request to `path`: yes (released when the
   * connection is closed and its handler done), or the answer to send at once instead.
   */
  readonly reserve?: (path: string, bytes: number) => Reservation;
}

export interface Listener {
  /** Stops accepting and waits for the calls in flight. */
  close(): Promise<void>;
}

interface Connection {
  received: Buffer[];
  size: number;
  /** Bytes the request needs in all before it is worth parsing again. */
  needed: number;
  /** Bytes of the answer not yet taken by the socket. */
  pending: Buffer | undefined;
  /** A request was read (or refused): later bytes are ignored. */
  done: boolean;
  closed: boolean;
  /** Gives back the bytes reserved for the request (ListenerOptions.reserve), once. */
  release: (() => void) | undefined;
  /** The handler has the request: its bytes are held until it is done, even if the peer is gone. */
  handling: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The subset of Bun's socket API used here (Bun's own types are not a dependency). */
interface BunSocket {
  readonly fd: number;
  data: Connection;
  write(data: Uint8Array): number;
  end(): void;
  shutdown(): void;
  terminate(): void;
}
interface BunListen {
  listen(options: {
    unix: string;
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, data: Uint8Array): void;
      drain(s: BunSocket): void;
      close(s: BunSocket): void;
      error(s: BunSocket, error: Error): void;
    };
  }): { stop(closeActiveConnections?: boolean): void };
}

export function listenOn(path: string, options: ListenerOptions): Listener & { stop(): void } {
  const bun = (globalThis as { Bun?: BunListen }).Bun;
  if (bun === undefined) throw new Error("the node agent runs only as the thereabouts executable");
  let inFlight = 0;

  const setTimer = (c: Connection, ms: number, expire: () => void) => {
    clearTimeout(c.timer);
    c.timer = setTimeout(expire, ms);
  };
  const pump = (s: BunSocket) => {
    const c = s.data;
    while (c.pending !== undefined && c.pending.length > 0) {
      const n = s.write(c.pending);
      if (n <= 0) return; // the socket is full: drain() calls again
      c.pending = c.pending.subarray(n);
    }
    if (c.pending !== undefined) {
      c.pending = undefined;
      clearTimeout(c.timer);
      s.end();
    }
  };
  const answer = (s: BunSocket, a: HttpAnswer) => {
    if (s.data.closed) return;
    s.data.pending = formatAnswer(a);
    setTimer(s.data, WRITE_DEADLINE_MS, () => s.terminate());
    pump(s);
  };
  /**
   * Answers before the request was read whole, then half-closes and keeps draining for a moment:
   * closing a unix socket with unread bytes makes the client's read fail (ECONNRESET), and the
   * plugin would lose the answer that says why it was refused. `why`: counted as a rejection.
   */
  const refuse = (s: BunSocket, why: Rejection | undefined, a: HttpAnswer) => {
    if (why !== undefined) options.rejected(why);
    const c = s.data;
    c.done = true;
    c.received = [];
    const bytes = formatAnswer(a);
    if (s.write(bytes) === bytes.length) s.shutdown();
    else s.end();
    setTimer(c, DRAIN_MS, () => s.terminate());
  };
  const serve = (s: BunSocket, request: HttpRequest) => {
    inFlight++;
    s.data.handling = true;
    options
      .handler(request)
      .catch((): HttpAnswer => ({ status: 500, type: "text/plain", body: "internal error\n" }))
      .then((a) => answer(s, a))
      .finally(() => {
        inFlight--;
        s.data.handling = false;
        if (s.data.closed) giveBack(s.data);
      });
  };
  const giveBack = (c: Connection) => {
    const release = c.release;
    c.release = undefined;
    release?.();
  };
  /** Holds the request's bytes, or answers at once (no body read) when they may not be held. */
  const reserved = (s: BunSocket, path: string, bytes: number): boolean => {
    if (options.reserve === undefined || s.data.release !== undefined) return true;
    const got = options.reserve(path, bytes);
    if ("release" in got) {
      s.data.release = got.release;
      return true;
    }
    refuse(s, undefined, got.answer); // an answer of the handler's, not a rejected connection
    return false;
  };

  const server = bun.listen({
    unix: path,
    socket: {
      open(s) {
        s.data = {
          received: [],
          size: 0,
          needed: 0,
          pending: undefined,
          done: false,
          closed: false,
          release: undefined,
          handling: false,
          timer: undefined,
        };
        const peer = options.peerOf(s.fd);
        if (peer === undefined || !options.admits(peer)) {
          refuse(s, "peer", { status: 403, type: "text/plain", body: "this user may not call the agent\n" });
          return;
        }
        setTimer(s.data, READ_DEADLINE_MS, () => {
          if (!s.data.done)
            refuse(s, "timeout", { status: 408, type: "text/plain", body: "request not received in time\n" });
        });
      },
      data(s, data) {
        const c = s.data;
        if (c.done) return;
        c.received.push(Buffer.from(data));
        c.size += data.length;
        if (c.size < c.needed) return;
        const whole = c.received.length === 1 ? c.received[0]! : Buffer.concat(c.received);
        c.received = [whole];
        const framed = readRequest(whole);
        if (framed.kind === "incomplete") {
          c.needed = framed.needed;
          if (framed.path !== undefined) reserved(s, framed.path, framed.needed);
          return;
        }
        if (framed.kind === "refused") {
          refuse(s, framed.reason, framed.answer);
          return;
        }
        if (!reserved(s, framed.request.path, whole.length)) return;
        c.done = true;
        c.received = [];
        clearTimeout(c.timer);
        serve(s, framed.request);
      },
      drain: pump,
      close(s) {
        s.data.closed = true;
        clearTimeout(s.data.timer);
        if (!s.data.handling) giveBack(s.data);
      },
      error() {
        // close() follows
      },
    },
  });
  return {
    stop: () => server.stop(true),
    async close() {
      server.stop(false);
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    },
  };
}
