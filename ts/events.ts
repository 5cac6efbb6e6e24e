/**
 * Typed event emitter: event maps are tuple types, and a throwing listener is isolated
 * (logged, never thrown into the protocol code that emitted).
 */
import { EventEmitter } from 'node:events'

export type EventMap = Record<string, unknown[]>

export class TypedEmitter<E extends EventMap> extends EventEmitter {
  override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void)
  }

  override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void)
  }

  override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void)
  }

  override emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    return super.emit(event, ...args)
  }

  /** Emits, catching and reporting a listener's exception instead of propagating it. */
  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    try {
      return super.emit(event, ...args)
    } catch (error) {
      process.emitWarning(`listener for "${event}" threw: ${String(error)}`)
      return true
    }
  }
}
