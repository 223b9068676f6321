// Concurrent reads of the same key share one computation, and only one that began after a read was
// asked for may answer it — so every answer reflects every write acknowledged before its request (a
// read arriving while one runs waits for the next run, which all such reads share). Unlike a cache or
// a plain single-flight (which hands a late arrival the run already under way, begun before its write),
// nothing here is ever older than the request. At most one run per key at a time.

interface Flight<T> {
  running: Promise<T>;
  next: Promise<T> | null;
}

const settled = (p: Promise<unknown>) => p.then(() => undefined, () => undefined);

export function freshShared<K, T>(compute: (key: K) => Promise<T>): (key: K) => Promise<T> {
  const flights = new Map<K, Flight<T>>();
  const start = (key: K): Promise<T> => {
    const flight: Flight<T> = { running: compute(key), next: null };
    flights.set(key, flight);
    void settled(flight.running).then(() => {
      if (flights.get(key) === flight) flights.delete(key);
    });
    return flight.running;
  };
  return (key: K) => {
    const flight = flights.get(key);
    if (!flight) return start(key);
    flight.next ??= settled(flight.running).then(() => start(key));
    return flight.next;
  };
}
