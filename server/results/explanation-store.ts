// How a result row keeps its explanation ("为什么是这个分数", server/domain/scoring/score.ts): the
// explanation's BSON bytes, as one Binary. It is written once per row and read only by the unit's
// explanation view; as one Binary instead of a tree of ~150 values (~4.8 KB of names, formulas and
// exact fractions) it costs a database far less memory (the embedded engine keeps every document in
// memory) and far less BSON work per row, and no view that lists results ever decodes it.
// BSON bytes rather than JSON: reading them back gives exactly what storing the object itself gave
// (nulls for undefined, -0, every number type), so the view is byte-for-byte what it was. Not
// deflated: that would save another 60% of the bytes but costs ~130 µs per row (10k rows: 1.3 s).
import mongoose from 'mongoose';
import type { UnitExplanation } from '../domain/scoring/score.ts';

const { BSON } = mongoose.mongo;
type Binary = InstanceType<typeof BSON.Binary>;

/** The stored form of each explanation, in order (null where there is none). */
export function packExplanations(list: readonly (UnitExplanation | null | undefined)[]): (Binary | null)[] {
  return list.map((e) => (e ? new BSON.Binary(BSON.serialize(e as unknown as Record<string, unknown>)) : null));
}

/**
 * The explanation of a stored row: a packed Binary (or its bytes), or — rows written before packing —
 * the object itself. Null when there is none.
 */
export function unpackExplanation(stored: unknown): UnitExplanation | null {
  if (stored === null || stored === undefined) return null;
  let bytes: Uint8Array | null = null;
  if (stored instanceof Uint8Array) bytes = stored;
  else if ((stored as { _bsontype?: string })._bsontype === 'Binary') bytes = (stored as Binary).value();
  if (!bytes) return stored as UnitExplanation;
  return BSON.deserialize(bytes) as unknown as UnitExplanation;
}
