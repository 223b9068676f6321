import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// An opened quarter (YYYYQn), SPEC §2. A period exists for the product only once this document exists:
// an admin opened it (or set its deadline), the calendar opened it on the first day of its quarter, or
// the calendar migration found returns or published results for it. Nothing else creates one.
const periodSchema = new Schema(
  {
    period: { type: String, required: true, unique: true, match: /^\d{4}Q[1-4]$/ },
    deadline: { type: Date, required: true },
    /** When and by whom the period was opened (`system` for the calendar, `migration` for old data). */
    openedAt: { type: Date, default: null },
    openedBy: { type: String, default: null },
    /** Set when the results are published (final); a reopened period clears it. */
    publishedAt: { type: Date, default: null },
    /** Closed by an admin: no more submissions (returns intake answers 409). */
    closed: { type: Boolean, default: false },
    /**
     * Something the provisional results depend on changed at this instant (a return, a review, a unit,
     * the scheme, the deadline); cleared by the recomputation that covered it. null: results are fresh.
     */
    staleAt: { type: Date, default: null },
    /** Incremented by every change (clock-independent): the recomputation clears the marker only if unchanged. */
    staleVersion: { type: Number, default: 0 },
    /**
     * The intake fence (services/periods.ts): writes the publication must see or refuse, in flight.
     * `at` is wall time (not the service clock): it tells a live writer from one that died.
     */
    intake: { type: [{ ticket: { type: String, required: true }, at: { type: Date, required: true }, _id: false }], default: undefined },
  },
  { timestamps: true },
);

export type PeriodDoc = InferSchemaType<typeof periodSchema>;
export const Period = mongoose.model('Period', periodSchema);

// One document per database (`_id: 'database'`): when it was created, for ASSESSMENT_START's default.
const databaseInfoSchema = new Schema(
  {
    _id: { type: String, required: true },
    createdAt: { type: Date, required: true },
    /** Calendar migration done (periods as records, conjured result sets removed). */
    calendarMigratedAt: { type: Date, default: null },
  },
  { collection: 'database_info' },
);

export const DatabaseInfo = mongoose.model('DatabaseInfo', databaseInfoSchema);
