// Hosts the embedded engine on a data directory in its own process (bench/run.ts --engine separate):
// prints `URI <uri>` and serves until killed, so that the app-side steps' memory is the app's alone.
import { startEngine } from '../server/db/engine/index.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: tsx bench/engine-host.ts <dataDir>');
const engine = await startEngine({ dataDir, port: 0, host: '127.0.0.1' });
process.stdout.write(`URI ${JSON.stringify(engine.uri)}\n`);
const stop = () => void engine.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setInterval(() => {}, 1 << 30);
