/**
 * V8 flags every `campaign` process starts with (bin/campaign.js re-executes itself with them).
 *
 * V8 grows its heap lazily: left alone, ingesting 300k rows peaked at 423 MB RSS, mostly garbage that
 * survived young-generation collections while chunks waited in the pipeline. A small young generation
 * and a capped old space keep it at 255 MB, and faster (11.4 s → 9.0 s for the same 300k rows, because
 * collections stay small). Measured with test/helpers/ingest-child.ts under /usr/bin/time.
 */
export const HEAP_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=128'];
