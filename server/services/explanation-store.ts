// How a result row keeps its explanation ("为什么是这个分数", server/domain/scoring/score.ts): the
// explanation's BSON, deflated, as one Binary. It is written once per row, read only by the unit's
// explanation view, and is ~4.8 KB of repetitive text and numbers (names, formulas, exact fractions)
// that deflates to ~1.9 KB; as one Binary instead of a tree of ~150 values it costs a database ~9×
// less memory (the embedded engine keeps every document in memory) and far less BSON work per row.
// BSON rather than JSON: reading it back gives exactly what storing the object itself gave (nulls for
// undefined, -0, every number type), so the view is byte-for-byte what it was.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import mongoose from 'mongoose';
import type { UnitExplanation } from '../domain/scoring/score.ts';

const { BSON } = mongoose.mongo;
const deflateRaw = promisify(zlib.deflateRaw);
/** Level 1: nearly the size of level 6 on this text (1.9 vs 1.8 KB) at the least CPU. */
const LEVEL = 1;

/** The stored form of explanations (in the thread pool, off the event loop), in order. */
export async function packExplanations(list: readonly (UnitExplanation | null | undefined)[]): Promise<(InstanceType<typeof BSON.Binary> | null)[]> {
  return Promise.all(
    list.map(async (e) => (e ? new BSON.Binary(await deflateRaw(BSON.serialize(e as unknown as Record<string, unknown>), { level: LEVEL })) : null)),
  );
}

/**
 * The explanation of a stored row: a packed Binary (or its bytes), or — rows written before packing —
 * the object itself. Null when there is none.
 */
export function unpackExplanation(stored: unknown): UnitExplanation | null {
  if (stored === null || stored === undefined) return null;
  let bytes: Uint8Array | null = null;
  if (stored instanceof Uint8Array) bytes = stored;
  else if ((stored as { _bsontype?: string })._bsontype === 'Binary') bytes = (stored as InstanceType<typeof BSON.Binary>).value();
  if (!bytes) return stored as UnitExplanation;
  return BSON.deserialize(zlib.inflateRawSync(bytes)) as unknown as UnitExplanation;
}
