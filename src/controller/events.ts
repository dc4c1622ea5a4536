// Kubernetes Events (core/v1) written by the controller: one per release on the pod whose
// addresses were freed, and one per invalid cron expression. Best effort: a failed write is logged,
// never retried past the client's own retries, and never fails the work it reports.
import type { Kube } from "./kube.ts";
import { wholeSeconds } from "./kube.ts";

export const COMPONENT = "thereabouts-controller";

export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export type EventType = "Normal" | "Warning";

/** Event messages are capped (the events.k8s.io API refuses notes over 1 KiB). */
const MAX_MESSAGE = 1024;
/** Events written at once; more wait in a queue of at most MAX_QUEUED (beyond it they are dropped). */
const CONCURRENCY = 4;
const MAX_QUEUED = 2_000;

export class EventRecorder {
  readonly #kube: Kube;
  readonly #instance: string;
  readonly #onError: (error: unknown) => void;
  #sequence = 0n;
  #active = 0;
  readonly #queue: (() => Promise<void>)[] = [];
  #dropped = 0;

  constructor(kube: Kube, instance: string, onError: (error: unknown) => void) {
    this.#kube = kube;
    this.#instance = instance;
    this.#onError = onError;
  }

  /** Events dropped because too many were waiting (a sweep freeing thousands of pods). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues the event; resolves when it was written (or failed, or was dropped). */
  record(object: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    if (this.#queue.length >= MAX_QUEUED) {
      this.#dropped++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#queue.push(() => this.#write(object, type, reason, message).then(resolve));
      this.#next();
    });
  }

  #next(): void {
    while (this.#active < CONCURRENCY && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#active++;
      void job().finally(() => {
        this.#active--;
        this.#next();
      });
    }
  }

  async #write(object: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const now = new Date();
    // client-go names events `<object>.<unix nanoseconds in hex>`.
    const nanos = BigInt(now.getTime()) * 1_000_000n + (this.#sequence++ % 1_000_000n);
    const body = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${object.name}.${nanos.toString(16)}`, namespace: object.namespace },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        namespace: object.namespace,
        name: object.name,
        ...(object.uid ? { uid: object.uid } : {}),
      },
      reason,
      message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message,
      type,
      source: { component: COMPONENT },
      firstTimestamp: wholeSeconds(now),
      lastTimestamp: wholeSeconds(now),
      count: 1,
      reportingComponent: COMPONENT,
      reportingInstance: this.#instance,
    };
    try {
      await this.#kube.send(
        { method: "POST", path: `/api/v1/namespaces/${encodeURIComponent(object.namespace)}/events`, body },
        "record an event at",
        5_000,
      );
    } catch (error) {
      this.#onError(error);
    }
  }
}
