import { parentPort } from 'node:worker_threads';
import { enableCompileCache } from 'node:module';
import { installPhoneSpeedups } from './phone-speedups.ts';
import type { ChunkContext } from './validate-chunk.ts';

/**
 * A validation thread: libphonenumber-js does 95k–140k numbers/s on one core, so validation is the
 * bottleneck of ingest and runs on every core. Messages: { ctx } once, then { id, data, firstLine,
 * hasHeader } per chunk; the answer is { id, result } or { id, error }.
 */
// Before libphonenumber-js loads (validate-chunk imports it): see phone-speedups.ts. The compile cache
// (as in bin/campaign.js) is per thread too: this thread compiles its own ~20 modules before its first chunk.
enableCompileCache();
installPhoneSpeedups();
const { validateChunk } = await import('./validate-chunk.ts');

let ctx: ChunkContext | null = null;

parentPort!.on('message', (msg: { ctx?: ChunkContext; id?: number; data?: string; firstLine?: number; hasHeader?: boolean }) => {
  if (msg.ctx) {
    ctx = msg.ctx;
    return;
  }
  try {
    const result = validateChunk(ctx!, msg.data!, msg.firstLine!, msg.hasHeader!);
    parentPort!.postMessage({ id: msg.id, result }, [result.keys.buffer, result.ends.buffer, result.copy.buffer]);
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: (err as Error).message });
  }
});
