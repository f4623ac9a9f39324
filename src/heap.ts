/**
 * V8 flags every `campaign` process starts with (bin/campaign.js re-executes itself with them).
 *
 * V8 grows its heap lazily: left alone, ingesting 300k rows peaked at 423 MB RSS, mostly garbage that
 * survived young-generation collections while chunks waited in the pipeline. A small young generation
 * and a capped old space keep it at 255 MB, and faster (11.4 s → 9.0 s for the same 300k rows, because
 * collections stay small). Measured with test/helpers/ingest-child.ts under /usr/bin/time.
 */
export const HEAP_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=128'];

/**
 * glibc malloc settings for the same re-executed process (read by glibc at start-up, so they too only work
 * from the environment of a fresh exec). An ingest allocates and frees megabyte buffers all the time
 * (chunks read from the file and from PostgreSQL, messages to and from the validation thread); glibc's
 * adaptive mmap threshold soon serves those from the brk heap, which they fragment and never give back:
 * 84 MB of [heap] in /proc/PID/smaps midway through the B1 file. A fixed 128 KiB threshold returns them
 * to the system on free, and two arenas stop each thread from growing its own: peak RSS of `campaign
 * create` on the 1M-row file 274 MB → 248 MB (threshold) → 240 MB (plus arenas), wall time within noise
 * (17.6 s, 18.5 s, 18.8 s; one run each under /usr/bin/time). Other C libraries ignore the variable.
 */
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2';

/** The environment to re-execute with: the caller's, plus MALLOC_TUNABLES unless GLIBC_TUNABLES is set. */
export function execEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GLIBC_TUNABLES === undefined ? { ...env, GLIBC_TUNABLES: MALLOC_TUNABLES } : env;
}
