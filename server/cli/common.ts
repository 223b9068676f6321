// Shared by the command-line tools (backup, restore, migrate): one-line errors and output helpers.
export { formatBytes } from '../services/backup.ts';

/** Runs a CLI body: exit 0 when it resolves; else one line on stderr ("错误：…") and exit 1. */
export function cliMain(body: () => Promise<void>): void {
  body().then(
    () => process.exit(0),
    (err: unknown) => {
      const e = err as { message?: string; code?: string };
      process.stderr.write(`错误：${String(e?.message ?? err).split('\n')[0]}${e?.code && typeof e.code === 'string' ? ` [${e.code}]` : ''}\n`);
      process.exit(1);
    },
  );
}

export function printCounts(rows: { ns: string; count: number }[]): void {
  const w = Math.max(10, ...rows.map((r) => r.ns.length));
  for (const r of rows) process.stdout.write(`  ${r.ns.padEnd(w)}  ${r.count}\n`);
}
