/**
 * Node (V8) flags the streaming services run with: the pipeline (sealing) and the records service (playback,
 * export). deploy/entrypoint.sh passes the same flags (a deploy test keeps the two equal) and the seal
 * benchmark starts its service child with them, so the figures are the production process's.
 *
 * --max-semi-space-size=1 (MiB): these processes stream gigabytes through short-lived Buffers (read chunks,
 * Encryption SDK frames, HTTP chunks). Their backing stores are freed only when V8 collects the small JS
 * objects that own them, and with the default 16 MiB semi-space that takes a long time in bytes streamed,
 * so dead buffers pile up to the external-memory GC trigger. A 1 MiB young generation collects them every
 * few frames: measured on the 1 GiB seal benchmark, peak RSS 261 → 214 MiB, for a few cheap scavenges.
 */
export const STREAMING_SERVICE_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1']);
