/** NetConnection/NetStream status info objects (RTMP 1.0 §7.2.2 onStatus). */
export interface StatusInfo {
  level: 'status' | 'error' | 'warning'
  code: string
  description: string
  [key: string]: unknown
}

export function status(code: string, description: string, extra: Record<string, unknown> = {}): StatusInfo {
  const level = /\.(BadName|Failed|StreamNotFound|Rejected|Unauthorized)$/.test(code) ? 'error' : 'status'
  return { level, code, description, ...extra }
}
