/**
 * Dictionary entries as a JSON object that serializes in the entries' order.
 *
 * JSON.stringify writes an object's members in the order of its own keys, and an ordinary object lists its
 * integer-like keys ("10", "2") first, ascending, before the others in the order they were added. When the entries
 * come in an order an ordinary object keeps, an ordinary object is returned. Otherwise the object is wrapped in a
 * Proxy whose `ownKeys` lists the keys in the entries' order: JSON.stringify takes an object's keys from its
 * [[OwnPropertyKeys]] (EnumerableOwnProperties), which for a Proxy is that trap's list in the trap's order, so every
 * body made with JSON.stringify (Nest's replies, the rendered state, the dashboard's overview) keeps the order.
 *
 * Either way the object is frozen (no key can be added, changed or removed, which the trap's fixed list relies on).
 * Copying it into a new object (spread, `Object.assign`) would lose the order: serialize it as is.
 */
export function orderedObject<V>(entries: ReadonlyArray<readonly [string, V]>): Readonly<Record<string, V>> {
  const target: Record<string, V> = {};
  const keys: string[] = [];
  for (const [key, value] of entries) {
    if (Object.hasOwn(target, key)) throw new TypeError(`orderedObject: the key ${JSON.stringify(key)} is repeated`);
    // Assigned `__proto__` would set the prototype instead of making an own key.
    if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true });
    else target[key] = value;
    keys.push(key);
  }
  Object.freeze(target);
  if (sameKeys(Object.keys(target), keys)) return target;
  return new Proxy(target, { ownKeys: () => keys });
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
