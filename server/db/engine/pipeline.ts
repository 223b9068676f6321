// The aggregation pipeline in slices (issue 19). The stages are the same operators as when mingo's
// Aggregator ran the whole pipeline at once (runPipelineAtOnce) — mingo's, with the engine's $group,
// $sort and $project — given the same options object and the documents in the same order; what
// changes is where the work may pause:
// - consecutive streaming stages (STREAMING) are one mingo stream, fed PIPELINE_CHUNK documents at
//   a time; between two chunks its source reports that it has nothing more (a mingo stream does
//   not keep that end: asked again, it pulls from its source again);
// - $group and $sort are the engine's own generators (groupSteps, sortDocsSteps), $sortByCount is
//   the two of them (as MongoDB defines it), $facet runs each of its sub-pipelines through this
//   runner in turn;
// - any other stage is mingo's, over its whole input: one slice.
// As in mingo, every stage is built (and its specification checked) before any document flows,
// and a stage sees all of its input before the next one starts only where mingo's does too
// (blocking stages), so errors come in the same order.
import { Lazy } from 'mingo/lazy';
import { OpType, ProcessingMode } from 'mingo/core';
import { cloneDeep } from 'mingo/util';
import { Aggregator } from 'mingo/aggregator';
import { isPlainObject, type Doc } from './bsonutil.ts';
import { err } from './errors.ts';
import { checkGroup, checkPipeline, convertPipelineRegexes, groupSteps, mingoOptions, sortDocsSteps, sortSpec, stageOptions } from './query.ts';
import { SLICE_DOCS, type Steps } from './steps.ts';

type Opts = any;
type Stream = { next(): { done?: boolean; value?: unknown }; collect(): unknown[] };
type Stage = (input: Doc[]) => Steps<Doc[]>;

/** The collections $lookup, $graphLookup and $unionWith read, by name. */
export type Resolver = (name: string) => Doc[];

/**
 * Stages that map each document to zero or more documents on its own: mingo runs them as a lazy
 * map / filter over its input, keeping nothing across documents but counters ($skip, $limit) and
 * what it prepared when the stage was built ($lookup's and $graphLookup's foreign collection).
 */
const STREAMING = new Set(['$match', '$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$redact', '$unwind', '$lookup', '$graphLookup', '$skip', '$limit']);

/** Documents fed to a run of streaming stages between two yields (a $lookup may be costly per document). */
const PIPELINE_CHUNK = 64;

/** The documents `pipeline` (MongoDB's aggregation stages) turns `docs` into, in slices. */
export function* runPipelineSteps(docs: Doc[], pipeline: Doc[], resolver: Resolver, extra: Doc = {}): Steps<Doc[]> {
  checkPipeline(pipeline);
  pipeline = convertPipelineRegexes(pipeline);
  try {
    return yield* runStages(docs, pipeline, stageOptions(mingoOptions({ collectionResolver: resolver, ...extra })));
  } catch (e) {
    if ((e as { code?: number }).code) throw e;
    throw err('FailedToParse', (e as Error).message);
  }
}

/** The same pipeline run by mingo's Aggregator at once, in one slice: what runPipelineSteps must equal (tests). */
export function runPipelineAtOnce(docs: Doc[], pipeline: Doc[], resolver: Resolver, extra: Doc = {}): Doc[] {
  checkPipeline(pipeline);
  pipeline = convertPipelineRegexes(pipeline);
  try {
    return new Aggregator(pipeline, mingoOptions({ collectionResolver: resolver, ...extra })).run(docs) as Doc[];
  } catch (e) {
    if ((e as { code?: number }).code) throw e;
    throw err('FailedToParse', (e as Error).message);
  }
}

/** What mingo's Aggregator.stream does with `options` (a stage options object), stage by stage in slices. */
function* runStages(docs: Doc[], pipeline: Doc[], options: Opts): Steps<Doc[]> {
  const stages = build(pipeline, options);
  const mode = options.processingMode;
  let cur = mode & ProcessingMode.CLONE_INPUT ? yield* mapSteps(docs, cloneDeep) : docs;
  for (const stage of stages) cur = yield* stage(cur);
  return mode & ProcessingMode.CLONE_OUTPUT ? yield* mapSteps(cur, cloneDeep) : cur;
}

function* mapSteps(docs: Doc[], fn: (d: Doc) => unknown): Steps<Doc[]> {
  const out = new Array<Doc>(docs.length);
  for (let i = 0; i < docs.length; i++) {
    if (i % SLICE_DOCS === SLICE_DOCS - 1) yield;
    out[i] = fn(docs[i]) as Doc;
  }
  return out;
}

const nameOf = (stage: Doc) => Object.keys(stage)[0];

function build(pipeline: Doc[], options: Opts): Stage[] {
  const stages: Stage[] = [];
  for (let i = 0; i < pipeline.length; ) {
    let j = i;
    while (j < pipeline.length && STREAMING.has(nameOf(pipeline[j]))) j++;
    if (j > i) {
      stages.push(streaming(pipeline.slice(i, j), options));
      i = j;
    } else if (nameOf(pipeline[i]) === '$sortByCount') {
      // what MongoDB defines it as (mingo's own $group and $sort would hash 1 and 1.0 apart and leave out a null _id)
      const by = pipeline[i++].$sortByCount;
      stages.push(blocking({ $group: { _id: by, count: { $sum: 1 } } }, options), blocking({ $sort: { count: -1 } }, options));
    } else stages.push(blocking(pipeline[i++], options));
  }
  return stages;
}

/** A mingo stage operator applied to `input`, as Aggregator.stream applies it. */
function apply(input: Stream, stage: Doc, options: Opts): Stream {
  const name = nameOf(stage);
  const op = options.context.getOperator(OpType.PIPELINE, name);
  if (!op) throw new Error(`unregistered pipeline operator ${name}.`);
  return op(input, stage[name], options);
}

/** Consecutive streaming stages: one mingo stream, fed PIPELINE_CHUNK documents at a time. */
function streaming(pipeline: Doc[], options: Opts): Stage {
  const feed = { docs: [] as Doc[], pos: 0, end: 0 };
  const source = Lazy(() => (feed.pos < feed.end ? { value: feed.docs[feed.pos++], done: false } : { value: undefined, done: true })) as unknown as Stream;
  const stream = pipeline.reduce<Stream>((s, st) => apply(s, st, options), source);
  return function* (input) {
    const docs: Doc[] = [];
    feed.docs = input;
    feed.pos = 0;
    for (let from = 0; from < input.length; from += PIPELINE_CHUNK) {
      if (from > 0) yield;
      feed.end = Math.min(input.length, from + PIPELINE_CHUNK);
      for (let r = stream.next(); !r.done; r = stream.next()) docs.push(r.value as Doc);
    }
    return docs;
  };
}

/** A stage that needs its whole input first. */
function blocking(stage: Doc, options: Opts): Stage {
  const name = nameOf(stage);
  const spec = stage[name];
  if (name === '$group') {
    checkGroup(spec);
    return (input) => groupSteps(input, spec, options);
  }
  if (name === '$sort') {
    sortSpec(spec);
    return (input) => sortDocsSteps(input, spec, (d) => d);
  }
  if (name === '$facet') return (input) => facet(input, spec, options);
  const held = { docs: [] as Doc[], pos: 0 };
  const source = Lazy(() => (held.pos < held.docs.length ? { value: held.docs[held.pos++], done: false } : { value: undefined, done: true })) as unknown as Stream;
  const out = apply(source, stage, options);
  // eslint-disable-next-line require-yield
  return function* (input) {
    held.docs = input;
    return out.collect() as Doc[];
  };
}

/**
 * $facet as mingo runs it: each sub-pipeline in turn over a copy of the input (the options ask
 * the sub-pipeline to clone its input), built when it starts; one output document.
 */
function* facet(input: Doc[], spec: Doc, options: Opts): Steps<Doc[]> {
  const subOptions = options.processingMode & ProcessingMode.CLONE_INPUT ? options : { ...options.options, processingMode: ProcessingMode.CLONE_INPUT };
  const o: Doc = {};
  for (const k of Object.keys(spec)) {
    const sub = spec[k];
    if (!Array.isArray(sub) || !sub.every(isPlainObject)) throw new Error(`$facet: the value of ${k} must be an array of stages`);
    o[k] = yield* runStages(input, sub, stageOptions(subOptions));
  }
  return [o];
}
