import { createReadStream } from 'node:fs';
import { decodeStream } from './encoding.ts';
import { chunkRecords } from './chunker.ts';
import { parseChunk, type LineRecord } from './parse-chunk.ts';
import { inspectFile, type FilePlan } from './upload.ts';

/**
 * Stream the data records of any CSV that ingest accepts (encodings, delimiters, line endings), one chunk
 * in memory at a time. For the smaller readers (the opt-out list import); campaigns go through the
 * durable upload instead.
 */
export async function readRecords(path: string): Promise<{ plan: FilePlan; records: AsyncGenerator<LineRecord> }> {
  const plan = await inspectFile(path);
  async function* records(): AsyncGenerator<LineRecord> {
    const source = createReadStream(path).pipe(decodeStream(plan.encoding, plan.bom));
    for await (const chunk of chunkRecords(source, { recordDelimiter: plan.recordDelimiter, delimiter: plan.delimiter })) {
      yield* parseChunk(chunk.data.toString('utf8'), chunk.firstLine, plan.delimiter, chunk.seq === 0, plan.recordDelimiter === '\r');
    }
  }
  return { plan, records: records() };
}
