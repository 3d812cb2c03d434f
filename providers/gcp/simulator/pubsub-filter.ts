import { invalidArgument } from './api-error.ts';

type Node =
  | { t: 'and' | 'or'; a: Node; b: Node }
  | { t: 'not'; a: Node }
  | { t: 'has'; key: string }
  | { t: 'eq' | 'ne'; key: string; value: string }
  | { t: 'prefix'; key: string; value: string };

/**
 * A Pub/Sub subscription filter on attributes: `attributes.k = "v"`, `attributes.k != "v"`,
 * `attributes:k`, `hasPrefix(attributes.k, "p")`, `NOT`/`-`, `AND`, `OR` and parentheses.
 */
export function compileFilter(text: string): (attributes: Record<string, string>) => boolean {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|\(|\)|,|!=|=|:|-|[A-Za-z_][\w.]*|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const t = tokens[i++];
    if (t === undefined || (expected !== undefined && t !== expected))
      throw invalidArgument('filter', `cannot parse "${text}": expected ${expected ?? 'more'} at token ${i}`);
    return t;
  };
  const str = () => {
    const t = take();
    if (!t.startsWith('"')) throw invalidArgument('filter', `cannot parse "${text}": expected a quoted string`);
    return JSON.parse(t) as string;
  };
  const attr = (t: string) => {
    if (!t.startsWith('attributes.'))
      throw invalidArgument('filter', `cannot parse "${text}": only attributes can be filtered on`);
    return t.slice('attributes.'.length);
  };
  const primary = (): Node => {
    const t = take();
    if (t === '(') {
      const n = or();
      take(')');
      return n;
    }
    if (t === 'NOT' || t === '-') return { t: 'not', a: primary() };
    if (t === 'hasPrefix') {
      take('(');
      const key = attr(take());
      take(',');
      const value = str();
      take(')');
      return { t: 'prefix', key, value };
    }
    if (t === 'attributes' && peek() === ':') {
      take(':');
      return { t: 'has', key: take() };
    }
    const key = attr(t);
    const op = take();
    if (op !== '=' && op !== '!=') throw invalidArgument('filter', `cannot parse "${text}": unknown operator ${op}`);
    return { t: op === '=' ? 'eq' : 'ne', key, value: str() };
  };
  const and = (): Node => {
    let n = primary();
    while (peek() === 'AND') {
      take();
      n = { t: 'and', a: n, b: primary() };
    }
    return n;
  };
  const or = (): Node => {
    let n = and();
    while (peek() === 'OR') {
      take();
      n = { t: 'or', a: n, b: and() };
    }
    return n;
  };
  const root = or();
  if (i < tokens.length) throw invalidArgument('filter', `cannot parse "${text}": unexpected "${tokens[i]}"`);
  const run = (n: Node, a: Record<string, string>): boolean => {
    switch (n.t) {
      case 'and':
        return run(n.a, a) && run(n.b, a);
      case 'or':
        return run(n.a, a) || run(n.b, a);
      case 'not':
        return !run(n.a, a);
      case 'has':
        return n.key in a;
      case 'eq':
        return a[n.key] === n.value;
      case 'ne':
        return a[n.key] !== n.value;
      case 'prefix':
        return (a[n.key] ?? '').startsWith(n.value);
    }
  };
  return (attributes) => run(root, attributes);
}
