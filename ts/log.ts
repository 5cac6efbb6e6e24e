/** Structured logs (pino, JSON lines). `SLUICE_LOG_LEVEL` sets the level (default `info`). */
import pino from 'pino'

export type Logger = pino.Logger

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'sluice',
    level: options.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info',
    base: undefined,
  })
}
