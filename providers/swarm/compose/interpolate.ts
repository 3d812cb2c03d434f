/**
 * Compose-style variable interpolation over chart values: `$VAR`, `${VAR}`, `${VAR:-default}`
 * (unset or empty), `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}` (required),
 * `${VAR:+alt}` / `${VAR+alt}` (alternative), `$$` for a literal `$`. Defaults may hold further
 * expressions. Values are looked up by exact key, then as a dotted path (`${mongo.replicas}`).
 * Unlike Compose, an unset variable without a default is an error: a typo must not deploy an
 * empty string.
 */

export type Values = Readonly<Record<string, unknown>>;

export class InterpolationError extends Error {
  /** Offset in the interpolated text where the expression starts. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'InterpolationError';
    this.offset = offset;
  }
}

/** A value if set: an exact key first, then a dotted path into nested objects. */
export function lookup(values: Values, name: string): unknown {
  if (Object.hasOwn(values, name)) return values[name];
  let cur: unknown = values;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.]*/;

function stringify(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * Interpolates one string. When the whole string is a single `${VAR}` and the value is not a
 * string (a number, a boolean, a list), the value keeps its type, so `replicas: ${REPLICAS}` is a
 * number. Throws `InterpolationError` with the offset of the failing expression.
 */
export function interpolate(input: string, values: Values): unknown {
  const whole = /^\$\{([A-Za-z_][A-Za-z0-9_.]*)\}$/.exec(input) ?? /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(input);
  if (whole) {
    const v = lookup(values, whole[1] as string);
    if (v === undefined || v === null) throw unset(whole[1] as string, 0);
    return v;
  }
  return expand(input, values, 0);
}

/** Interpolates a whole text (a config file), always to a string. */
export function interpolateText(input: string, values: Values): string {
  return expand(input, values, 0);
}

function unset(name: string, offset: number): InterpolationError {
  return new InterpolationError(
    `variable ${name} is not set: give it in the stack's values or the chart's values.yaml, or write \${${name}:-default}`,
    offset,
  );
}

function expand(input: string, values: Values, base: number): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== '$') {
      out += ch;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const close = matchingBrace(input, i + 1);
      if (close < 0) throw new InterpolationError('unterminated "${": a closing brace is missing', base + i);
      out += evaluate(input.slice(i + 2, close), values, base + i);
      i = close + 1;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(input.slice(i + 1));
    if (m) {
      const v = lookup(values, m[0]);
      if (v === undefined || v === null) throw unset(m[0], base + i);
      out += stringify(v);
      i += 1 + m[0].length;
      continue;
    }
    // A lone `$` (e.g. in a regex or a price) stays as it is, as Compose keeps it.
    out += '$';
    i++;
  }
  return out;
}

function matchingBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function evaluate(expr: string, values: Values, offset: number): string {
  const m = NAME.exec(expr);
  if (!m) throw new InterpolationError(`invalid expression \${${expr}}: a variable name is expected`, offset);
  const name = m[0];
  const rest = expr.slice(name.length);
  const value = lookup(values, name);
  const isUnset = value === undefined || value === null;
  const isEmpty = isUnset || value === '';
  if (rest === '') {
    if (isUnset) throw unset(name, offset);
    return stringify(value);
  }
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (!op) throw new InterpolationError(`invalid expression \${${expr}}: unknown operator after ${name}`, offset);
  const arg = rest.slice(op.length);
  switch (op) {
    case ':-':
      return isEmpty ? expand(arg, values, offset) : stringify(value);
    case '-':
      return isUnset ? expand(arg, values, offset) : stringify(value);
    case ':?':
    case '?':
      if (op === ':?' ? isEmpty : isUnset) {
        throw new InterpolationError(
          `required variable ${name} is missing a value${arg ? `: ${expand(arg, values, offset)}` : ''}`,
          offset,
        );
      }
      return stringify(value);
    case ':+':
      return isEmpty ? '' : expand(arg, values, offset);
    default:
      return isUnset ? '' : expand(arg, values, offset);
  }
}
