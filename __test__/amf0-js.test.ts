/**
 * AMF0 values as JS values (crates/binding/src/amf.rs): decoded values reach JS through one
 * `JSON.parse`, so the mapping must match the documented one exactly, byte layouts from the
 * AMF0 spec (§2.2 number, §2.4 string, §2.5 object, §2.8 null, §2.9 undefined, §2.10 ECMA
 * array, §2.12 strict array, §2.13 date, §2.14 long string).
 */
import { describe, expect, it } from 'vitest'
import { native } from '../dist/native.js'

const number = (n: number) => {
  const b = Buffer.alloc(9)
  b[0] = 0x00
  b.writeDoubleBE(n, 1)
  return b
}
const utf8 = (s: string) => {
  const bytes = Buffer.from(s, 'utf8')
  const b = Buffer.alloc(2)
  b.writeUInt16BE(bytes.length)
  return Buffer.concat([b, bytes])
}
const string = (s: string) => Buffer.concat([Buffer.from([0x02]), utf8(s)])
const objectEnd = Buffer.from([0x00, 0x00, 0x09])

describe('AMF0 → JS', () => {
  it('round-trips what encodeAmf0 writes, keeping property order', () => {
    const values = ['connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live', b: true, n: null, nested: { z: 1.5, a: [1, 'x', false] } }, [], 'é – ✓']
    expect(native.decodeAmf0(native.encodeAmf0(values))).toEqual(values)
    expect(Object.keys(native.decodeAmf0(native.encodeAmf0([{ z: 1, a: 2, m: 3 }]))[0])).toEqual(['z', 'a', 'm'])
  })

  it('maps numbers that are not finite to null, dates to ms, undefined to null, long strings to strings', () => {
    const date = Buffer.alloc(11)
    date[0] = 0x0b
    date.writeDoubleBE(1_700_000_000_123, 1)
    const long = 'x'.repeat(70_000)
    const longString = Buffer.alloc(5)
    longString[0] = 0x0c
    longString.writeUInt32BE(long.length, 1)
    const bytes = Buffer.concat([number(NaN), number(Infinity), number(-0.1), date, Buffer.from([0x06]), longString, Buffer.from(long)])
    expect(native.decodeAmf0(bytes)).toEqual([null, null, -0.1, 1_700_000_000_123, null, long])
  })

  it('keeps exact doubles', () => {
    const xs = [0.1, 1 / 3, 2 ** 53 + 2, 5e-324, 1.7976931348623157e308, -123456.789]
    expect(native.decodeAmf0(Buffer.concat(xs.map(number)))).toEqual(xs)
  })

  it('makes a __proto__ key an own property, not the prototype', () => {
    const object = Buffer.concat([Buffer.from([0x03]), utf8('__proto__'), string('polluted'), utf8('a'), number(1), objectEnd])
    const [v] = native.decodeAmf0(object)
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toBe('polluted')
    expect(v.a).toBe(1)
  })

  it('decodes an ECMA array as an object and a strict array as an array', () => {
    const ecma = Buffer.concat([Buffer.from([0x08, 0, 0, 0, 2]), utf8('duration'), number(20), utf8('encoder'), string('Lavf'), objectEnd])
    const strict = Buffer.concat([Buffer.from([0x0a, 0, 0, 0, 2]), number(1), string('two')])
    expect(native.decodeAmf0(Buffer.concat([ecma, strict]))).toEqual([{ duration: 20, encoder: 'Lavf' }, [1, 'two']])
  })

  it('throws RTMP_AMF_MALFORMED for bytes that are not AMF0', () => {
    expect(() => native.decodeAmf0(Buffer.from([0x02, 0x00, 0x05, 0x61]))).toThrow(/RTMP_AMF_MALFORMED/)
    expect(() => native.decodeAmf0(Buffer.from([0x42]))).toThrow(/RTMP_AMF_MALFORMED/)
  })
})

describe('JS → AMF0', () => {
  it('follows JSON.stringify: toJSON, dropped undefined, null for what is not finite', () => {
    const bytes = native.encodeAmf0([{ d: new Date(0), u: undefined, f: () => 1, n: NaN, i: -Infinity, s: 'ok' }, undefined])
    expect(native.decodeAmf0(bytes)).toEqual([{ d: '1970-01-01T00:00:00.000Z', n: null, i: null, s: 'ok' }, null])
  })

  it('writes exact doubles (AMF0 §2.2: 8-byte IEEE 754 big-endian)', () => {
    const xs = [0.1 + 0.2, 1 / 3, 2 ** 53 + 2, 5e-324, -1.7976931348623157e308, 123456789012]
    const bytes = native.encodeAmf0(xs)
    expect(bytes.length).toBe(9 * xs.length)
    for (let i = 0; i < xs.length; i++) {
      expect(bytes[9 * i]).toBe(0x00)
      expect(bytes.readDoubleBE(9 * i + 1)).toBe(xs[i])
    }
  })

  it('throws for what is not an array, and what JSON.stringify throws', () => {
    expect(() => native.encodeAmf0('x' as unknown as unknown[])).toThrow(/must be an array/)
    expect(() => native.encodeAmf0([1n])).toThrow(TypeError)
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(() => native.encodeAmf0([cycle])).toThrow(TypeError)
    const s = new native.RtmpSession()
    expect(() => s.sendData(1, 0, {} as unknown as unknown[])).toThrow(/must be an array/)
    expect(() => s.sendCommand(0, '_result', 1, null, 5 as unknown as unknown[])).toThrow(/must be an array/)
  })
})
