// Structured logs (pino, JSON lines on stdout). One logger for the process; modules take children.
import { pino, type Logger } from 'pino';
import { LOG_LEVELS, type LogLevel } from './config.ts';

function initialLevel(): LogLevel {
  const v = (process.env.LOG_LEVEL ?? '').trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : 'info';
}

export const log: Logger = pino({
  level: initialLevel(),
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: { paths: ['password', '*.password', 'token', '*.token', 'req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
});

export function setLogLevel(level: LogLevel): void {
  log.level = level;
}

export type { Logger };
