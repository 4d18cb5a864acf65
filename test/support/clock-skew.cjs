// Preloaded into a replica (NODE_OPTIONS=--require) to shift its wall clock by TIDEMARK_TEST_CLOCK_SKEW_MS, so tests
// can run replicas whose clocks disagree. Only `new Date()` and `Date.now()` move; dates built from values don't.
const skew = Number(process.env.TIDEMARK_TEST_CLOCK_SKEW_MS || 0);
if (skew) {
  const RealDate = Date;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + skew);
      else super(...args);
    }
    static now() {
      return RealDate.now() + skew;
    }
  }
  globalThis.Date = SkewedDate;
}
