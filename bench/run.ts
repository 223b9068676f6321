// `npm run bench`: every benchmark reports ratios against a baseline measured in the same run.
import { benchEngine, printResults } from './engine.ts';

printResults('engine (mongoose → wire → engine → SQLite) vs better-sqlite3 direct', await benchEngine());
