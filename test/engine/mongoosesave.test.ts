// Ordinary mongoose 9 flows that send mixed update operators: doc.save() after array edits
// (mongoose adds its versioning — filter on __v plus $inc: {__v: 1} — to the $push / $pull /
// $set it sends), subdocument removal, findOneAndUpdate with arrays, populate with $slice.
// Every change must be stored (issue 13: these were acknowledged and lost). The same
// assertions hold on a real MongoDB (TEST_MONGODB_URI).
import { expect } from 'chai';
import mongoose, { Schema } from 'mongoose';
import { mongooseSuite } from './harness.ts';

describe('engine conformance: mongoose save() and array updates', function () {
  let Post: mongoose.Model<any>;
  let Author: mongoose.Model<any>;
  const sent: { method: string; query: unknown; doc: unknown }[] = [];

  mongooseSuite((conn) => {
    const commentSchema = new Schema({ body: String, replies: [String] });
    Post = conn.model(
      'Post',
      new Schema({ title: String, tags: [String], comments: [commentSchema], meta: { views: Number, by: [String] }, author: { type: Schema.Types.ObjectId, ref: 'Author' } }),
    );
    Author = conn.model('Author', new Schema({ name: String, posts: [{ type: Schema.Types.ObjectId, ref: 'Post' }] }));
    mongoose.set('debug', (coll: string, method: string, query: unknown, doc: unknown) => {
      if (coll === 'posts') sent.push({ method, query, doc });
    });
  });
  after(() => {
    mongoose.set('debug', false);
  });

  const fresh = () =>
    Post.create({ title: 't', tags: ['a', 'b'], comments: [{ body: 'x', replies: [] }, { body: 'y', replies: ['r0'] }], meta: { views: 1, by: [] } });

  it('save() after a push into a nested array (versioned: __v filter + $inc) stores the push', async () => {
    const p = await fresh();
    const doc = await Post.findById(p._id);
    doc.comments[0].replies.push('r');
    sent.length = 0;
    await doc.save();
    // mongoose sent a versioned update: the filter names __v and the update mixes $inc with $push
    const upd = sent.find((s) => s.method === 'updateOne')!;
    expect(upd.query).to.have.property('__v', 0);
    expect(upd.doc).to.have.nested.property('$inc.__v', 1);
    const back = await Post.findById(p._id).lean<any>();
    expect(back.comments[0].replies).to.deep.equal(['r']);
    expect(back.__v).to.equal(1);
  });

  it('save() after a nested edit and a pull stores both', async () => {
    const p = await fresh();
    const doc = await Post.findById(p._id);
    doc.comments[1].body = 'z';
    doc.tags.pull('a');
    doc.meta.views += 1;
    await doc.save();
    const back = await Post.findById(p._id).lean<any>();
    expect(back.comments.map((c: any) => c.body)).to.deep.equal(['x', 'z']);
    expect(back.tags).to.deep.equal(['b']);
    expect(back.meta.views).to.equal(2);
    expect(back.__v).to.equal(1);
  });

  it('save() after removing a subdocument and pushing another', async () => {
    const p = await fresh();
    const doc = await Post.findById(p._id);
    doc.comments.pull(doc.comments[0]._id);
    await doc.save();
    const again = await Post.findById(p._id);
    again.comments.push({ body: 'new', replies: ['q'] });
    again.meta.by.push('u1', 'u2');
    await again.save();
    const back = await Post.findById(p._id).lean<any>();
    expect(back.comments.map((c: any) => [c.body, c.replies])).to.deep.equal([
      ['y', ['r0']],
      ['new', ['q']],
    ]);
    expect(back.meta.by).to.deep.equal(['u1', 'u2']);
  });

  it('concurrent saves: two pulls both apply; an edit of a moved subdocument is a VersionError, not a silent overwrite', async () => {
    const p = await fresh();
    const a = await Post.findById(p._id);
    const b = await Post.findById(p._id);
    a.tags.pull('a');
    await a.save();
    b.tags.pull('b');
    await b.save();
    expect((await Post.findById(p._id).lean<any>()).tags).to.deep.equal([]);
    const c = await Post.findById(p._id);
    const d = await Post.findById(p._id);
    c.comments.pull(c.comments[0]._id);
    await c.save();
    d.comments[1].body = 'stale';
    const e = await d.save().catch((x: unknown) => x);
    expect((e as Error).name).to.equal('VersionError');
    expect((await Post.findById(p._id).lean<any>()).comments.map((x: any) => x.body)).to.deep.equal(['y']);
  });

  it('findOneAndUpdate with array operators and a positional path', async () => {
    const p = await fresh();
    const r = await Post.findOneAndUpdate(
      { _id: p._id, 'comments.body': 'y' },
      { $push: { 'comments.$.replies': 'r1', tags: { $each: ['c'], $position: 0 } }, $set: { 'comments.$.body': 'Y' }, $inc: { 'meta.views': 10 } },
      { returnDocument: 'after' },
    ).lean<any>();
    expect(r.tags).to.deep.equal(['c', 'a', 'b']);
    expect(r.comments[1]).to.include({ body: 'Y' });
    expect(r.comments[1].replies).to.deep.equal(['r0', 'r1']);
    expect(r.meta.views).to.equal(11);
    const r2 = await Post.findOneAndUpdate({ _id: p._id }, { $pull: { comments: { body: 'x' } }, $addToSet: { tags: 'a' } }, { returnDocument: 'after' }).lean<any>();
    expect(r2.comments.map((c: any) => c.body)).to.deep.equal(['Y']);
    expect(r2.tags).to.deep.equal(['c', 'a', 'b']);
  });

  it('populate with a $slice projection', async () => {
    const au = await Author.create({ name: 'au' });
    const ps = await Post.create([1, 2, 3].map((i) => ({ title: 'p' + i, tags: ['t1', 't2', 't3'], author: au._id })));
    au.posts.push(...ps.map((x: any) => x._id));
    await au.save();
    const got = await Author.findById(au._id).populate({ path: 'posts', select: { tags: { $slice: 1 } } }).lean<any>();
    expect(got.posts.map((x: any) => [x.title, x.tags])).to.deep.equal([
      ['p1', ['t1']],
      ['p2', ['t1']],
      ['p3', ['t1']],
    ]);
    const sliced = await Author.findById(au._id, { posts: { $slice: -2 } }).lean<any>();
    expect(sliced.name).to.equal('au');
    expect(sliced.posts.map(String)).to.deep.equal(ps.slice(1).map((x: any) => String(x._id)));
  });
});
