// Exact rational arithmetic on BigInt (pure). Every score is computed with these, so no binary
// floating-point error can ever move a rounding. decimal.js is used only to turn the decimal
// numbers an admin typed (weights 0.6, floors 0.25 …) into exact fractions.
import { Decimal } from 'decimal.js';

/** Greatest common divisor (≥ 0). */
export function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

const PLAIN_DECIMAL = /^(-?\d+)\.(\d+)$/;

export class Rational {
  /** Always normalised: gcd(n, d) = 1 and d > 0. */
  readonly n: bigint;
  readonly d: bigint;

  private constructor(n: bigint, d: bigint) {
    this.n = n;
    this.d = d;
  }

  static of(n: bigint | number, d: bigint | number = 1n): Rational {
    let nn = BigInt(n);
    let dd = BigInt(d);
    if (dd === 0n) throw new RangeError('Rational: zero denominator');
    if (dd < 0n) {
      nn = -nn;
      dd = -dd;
    }
    const g = gcd(nn, dd) || 1n;
    return new Rational(nn / g, dd / g);
  }

  static readonly ZERO = Rational.of(0);
  static readonly ONE = Rational.of(1);

  /**
   * The exact value of the decimal a JS number prints as (0.1 → 1/10, not the binary double).
   * Throws on NaN / Infinity.
   */
  static fromNumber(x: number): Rational {
    if (!Number.isFinite(x)) throw new RangeError(`Rational: not a finite number: ${x}`);
    if (Number.isSafeInteger(x)) return Rational.of(x);
    // The common case read straight off the printed text ("88.75" → 8875/100); decimal.js (which parses
    // the same text) for exponent forms.
    const text = String(x);
    const m = PLAIN_DECIMAL.exec(text);
    if (m) return Rational.of(BigInt(m[1]! + m[2]!), 10n ** BigInt(m[2]!.length));
    const [n, d] = new Decimal(x).toFraction();
    return Rational.of(BigInt(n.toFixed(0)), BigInt(d.toFixed(0)));
  }

  add(o: Rational): Rational {
    return Rational.of(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  sub(o: Rational): Rational {
    return Rational.of(this.n * o.d - o.n * this.d, this.d * o.d);
  }
  mul(o: Rational): Rational {
    return Rational.of(this.n * o.n, this.d * o.d);
  }
  div(o: Rational): Rational {
    if (o.n === 0n) throw new RangeError('Rational: division by zero');
    return Rational.of(this.n * o.d, this.d * o.n);
  }
  cmp(o: Rational): -1 | 0 | 1 {
    const l = this.n * o.d;
    const r = o.n * this.d;
    return l < r ? -1 : l > r ? 1 : 0;
  }
  eq(o: Rational): boolean {
    return this.n === o.n && this.d === o.d;
  }
  lt(o: Rational): boolean {
    return this.cmp(o) < 0;
  }
  gte(o: Rational): boolean {
    return this.cmp(o) >= 0;
  }
  isZero(): boolean {
    return this.n === 0n;
  }
  max(o: Rational): Rational {
    return this.cmp(o) >= 0 ? this : o;
  }
  min(o: Rational): Rational {
    return this.cmp(o) <= 0 ? this : o;
  }
  clamp(lo: Rational, hi: Rational): Rational {
    return this.max(lo).min(hi);
  }
  /** Largest integer ≤ this. */
  floor(): bigint {
    const q = this.n / this.d; // truncates toward zero
    return this.n < 0n && q * this.d !== this.n ? q - 1n : q;
  }

  /** Round half-up (ties away from zero) to `places` decimals; the result is again exact. */
  roundHalfUp(places: number): Rational {
    const scale = 10n ** BigInt(places);
    const abs = this.n < 0n ? -this.n : this.n;
    const scaled = (2n * abs * scale + this.d) / (2n * this.d);
    return Rational.of(this.n < 0n ? -scaled : scaled, scale);
  }

  /** Fixed-point text after half-up rounding, e.g. toFixed(2) of 1999/20 → "99.95". */
  toFixed(places: number): string {
    const r = this.roundHalfUp(places);
    const scale = 10n ** BigInt(places);
    const scaled = (r.n * scale) / r.d; // exact: r has at most `places` decimals
    const neg = scaled < 0n;
    const digits = (neg ? -scaled : scaled).toString().padStart(places + 1, '0');
    const int = digits.slice(0, digits.length - places);
    const frac = digits.slice(digits.length - places);
    return (neg ? '-' : '') + int + (places > 0 ? '.' + frac : '');
  }

  /** Half-up rounded to `places` decimals, as a JS number (the double nearest that decimal). */
  toNumber(places: number): number {
    return Number(this.toFixed(places));
  }

  /** True when the decimal expansion terminates (denominator has only factors 2 and 5). */
  isTerminating(): boolean {
    let d = this.d;
    while (d % 2n === 0n) d /= 2n;
    while (d % 5n === 0n) d /= 5n;
    return d === 1n;
  }

  /**
   * Human-readable exact text: the full decimal when it terminates within `maxPlaces`
   * ("89.995"), otherwise the fraction ("269/3").
   */
  toExactString(maxPlaces = 12): string {
    if (this.d === 1n) return this.n.toString();
    if (this.isTerminating()) {
      for (let p = 1; p <= maxPlaces; p++) {
        const r = this.roundHalfUp(p);
        if (r.eq(this)) return this.toFixed(p);
      }
    }
    return `${this.n}/${this.d}`;
  }

  toString(): string {
    return this.toExactString();
  }
}
