/** Wall-clock ms since the epoch with sub-ms precision, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now()
}
