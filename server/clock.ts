// The one source of "now" for services and jobs, so tests can run on a fake clock.
let override: (() => Date) | null = null;

export const clock = {
  now(): Date {
    return override ? override() : new Date();
  },
  /** Tests only: fix or advance time. Pass null to return to the real clock. */
  set(fn: (() => Date) | null): void {
    override = fn;
  },
};
