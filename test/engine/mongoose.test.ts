// Conformance through mongoose: the same assertions hold on the embedded engine and on MongoDB.
import { expect } from 'chai';
import mongoose, { Schema } from 'mongoose';
import { mongooseSuite } from './harness.ts';

describe('engine conformance: mongoose', function () {
  const userSchema = new Schema(
    { name: { type: String, required: true, unique: true }, n: Number, tags: [String], unit: String },
    { timestamps: true },
  );
  userSchema.index({ unit: 1, n: 1 }, { unique: true, partialFilterExpression: { unit: { $type: 'string' } } });
  let User: mongoose.Model<any>;

  const env = mongooseSuite(async (conn) => {
    User = conn.model('User', userSchema);
    await User.init();
  });

  it('creates, finds, updates, upserts, counts and deletes', async () => {
    await User.create({ name: 'a', n: 1 });
    await User.create({ name: 'b', n: 2, tags: ['x', 'y'] });
    const b = await User.findOne({ name: 'b' }).lean<any>();
    expect(b.tags).to.deep.equal(['x', 'y']);
    expect(b.createdAt).to.be.instanceOf(Date);
    const r = await User.updateOne({ name: 'a' }, { $inc: { n: 5 } });
    expect(r.matchedCount).to.equal(1);
    expect(r.modifiedCount).to.equal(1);
    const up = await User.findOneAndUpdate({ name: 'c' }, { $set: { n: 9 } }, { upsert: true, returnDocument: 'after' }).lean<any>();
    expect(up.name).to.equal('c');
    expect(up.n).to.equal(9);
    expect(await User.countDocuments({ n: { $gt: 1 } })).to.equal(3);
    const agg = await User.aggregate([{ $match: {} }, { $group: { _id: null, s: { $sum: '$n' } } }]);
    expect(agg[0].s).to.equal(17);
    const del = await User.deleteMany({ n: { $gte: 9 } });
    expect(del.deletedCount).to.equal(1);
    const all = await User.find().sort({ n: -1 }).lean<any[]>();
    expect(all.map((d) => d.name)).to.deep.equal(['a', 'b']);
  });

  it('raises E11000 with keyPattern / keyValue like MongoDB', async () => {
    await User.create({ name: 'dup' });
    const e: any = await User.create({ name: 'dup' }).catch((x) => x);
    expect(e.name).to.equal('MongoServerError');
    expect(e.code).to.equal(11000);
    expect(e.keyPattern).to.deep.equal({ name: 1 });
    expect(e.keyValue).to.deep.equal({ name: 'dup' });
    expect(e.message).to.equal(`E11000 duplicate key error collection: ${env.t.dbName}.users index: name_1 dup key: { name: "dup" }`);
  });
});
