// Loads one built sluice.<platform>.node and exercises each native part of it: the Rust crates
// (AMF0, RTMP chunk mux), FDK AAC (C++ encoder), libopus (C decoder and encoder) and
// Symphonia's AAC decoder. `npm run release:check` runs it with the host's node, and under
// qemu-user with an arm64 node for the arm64 binaries. Plain CommonJS for Node 18 and later.
//   node scripts/release-smoke.cjs <path to .node>
'use strict'
const assert = require('assert')
const path = require('path')

const b = require(path.resolve(process.argv[2]))

// Rust only: AMF0 round trip and one chunk-muxed message.
const values = b.decodeAmf0(b.encodeAmf0(['connect', 1, { app: 'live', tcUrl: 'rtmp://x/live' }]))
assert.deepStrictEqual(values, ['connect', 1, { app: 'live', tcUrl: 'rtmp://x/live' }])
assert.ok(b.muxMessage(3, 0, 20, 0, Buffer.alloc(300, 1), 128).length > 300)

// libopus decode + FDK AAC encode: Opus silence frames (20 ms, stereo CELT) in, AAC-LC out.
const opusToAac = new b.OpusToAacTranscoder({ channels: 2, bitrate: 96000 })
const silence = Buffer.from([0xfc, 0xff, 0xfe])
const aacUnits = []
for (let i = 0; i < 50; i++) {
  const out = opusToAac.push(silence, i * 960)
  for (let j = 0; j < out.ends.length; j++) aacUnits.push(Buffer.from(out.data.subarray(j ? out.ends[j - 1] : 0, out.ends[j])))
}
assert.ok(aacUnits.length >= 40, `FDK AAC produced ${aacUnits.length} units`)
assert.strictEqual(opusToAac.audioSpecificConfig.toString('hex'), '1190')

// Symphonia AAC decode + libopus encode: those AAC units back to Opus.
const aacToOpus = new b.AacToOpusTranscoder(opusToAac.audioSpecificConfig)
let opusPackets = 0
aacUnits.forEach((u, i) => (opusPackets += aacToOpus.push(u, Math.round((i * 1024) / 48)).ends.length))
opusPackets += aacToOpus.flush().ends.length
assert.ok(opusPackets >= 40, `libopus produced ${opusPackets} packets`)

console.log(`ok ${process.arch} node ${process.version}: amf0, chunk mux, ${aacUnits.length} AAC units (FDK), ${opusPackets} Opus packets (libopus)`)
