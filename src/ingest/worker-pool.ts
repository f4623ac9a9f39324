import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { ChunkContext, ChunkResult } from './validate-chunk.ts';

const WORKER_HEAP_MB = 32;

/**
 * A fixed set of validation threads, one per core but one (the main thread builds the COPY and PostgreSQL
 * stores it: on the 2-core box, 1M rows took 27.7 s with one thread and 27.6 s with two, and peaked at
 * 289 MB instead of 318 MB). Chunks go to the least busy thread.
 */
export class ValidatorPool {
  private readonly workers: Array<{ worker: Worker; busy: number }> = [];
  private readonly pending = new Map<number, { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  /**
   * Starts the threads; they load their modules right away (~270 ms before a first chunk can be
   * validated), so a caller that knows it will validate can start them while it reads the file's head.
   * `configure` must be called before `validate`.
   */
  constructor(size = Math.max(1, availableParallelism() - 1)) {
    for (let i = 0; i < Math.max(1, size); i++) {
      // A small heap: a thread holds one chunk at a time, and without a limit V8 lets garbage pile up to
      // hundreds of MB before collecting (measured: 551 MB peak RSS for 150k rows with no limits). Not
      // too small either: at 24 MB one 1 MiB chunk took 860 ms instead of 410 ms (GC thrash), 32 MB is
      // where the time levels off (scratch timing of validateChunk per old-space size; B1 300k: 7.8 s).
      const worker = new Worker(new URL('./validate-worker.ts', import.meta.url), {
        resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 12 },
      });
      worker.on('message', (msg: { id: number; result?: ChunkResult; error?: string }) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        entry.busy--;
        if (msg.error !== undefined) p.reject(new Error(msg.error));
        else p.resolve(msg.result!);
      });
      worker.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      const entry = { worker, busy: 0 };
      this.workers.push(entry);
    }
  }

  /** The campaign's context, once, before the first chunk (messages to a thread are handled in order). */
  configure(ctx: ChunkContext): void {
    for (const w of this.workers) w.worker.postMessage({ ctx });
  }

  validate(data: string, firstLine: number, hasHeader: boolean): Promise<ChunkResult> {
    const entry = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    entry.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      entry.worker.postMessage({ id, data, firstLine, hasHeader });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
