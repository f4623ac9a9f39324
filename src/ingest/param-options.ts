/**
 * Opt-in normalisation of parameter values. By default a value is used exactly as the marketer wrote it
 * (interface.md); these flags exist for lists exported with padding or stray line breaks, and are stored
 * on the campaign so its report can be explained later.
 */
export interface ParamOptions {
  /** `--trim-params`: remove leading and trailing whitespace. */
  trim?: boolean;
  /** `--collapse-spaces`: turn every run of whitespace (tabs and line breaks included) into one space. */
  collapse_spaces?: boolean;
}

const RUN = /\s+/g;

export function normaliseParam(value: string, opts: ParamOptions): string {
  let v = value;
  if (opts.collapse_spaces) v = v.replace(RUN, ' ');
  if (opts.trim) v = v.trim();
  return v;
}
