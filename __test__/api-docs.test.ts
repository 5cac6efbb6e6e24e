/**
 * The API reference (`npm run docs`: TypeDoc over the public entry, ts/index.ts, with
 * typedoc.json) builds without a warning: every type the public API names is exported or
 * deliberately left out (typedoc.json `intentionallyNotExported`).
 */
import { it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = join(__dirname, '..')

it('TypeDoc builds the API reference of ts/index.ts without warnings', () => {
  const out = mkdtempSync(join(tmpdir(), 'sluice-api-docs-'))
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--out', out], { cwd: root, encoding: 'utf8' })
  const log = r.stdout + r.stderr
  console.log(log)
  expect(r.status, log).toBe(0)
  expect(log).not.toMatch(/warning|error/i)
  for (const page of ['index.html', 'classes/Sluice.html', 'classes/AccessRequest.html', 'classes/NativeBindingError.html', 'interfaces/StreamInfo.html']) {
    expect(existsSync(join(out, page)), page).toBe(true)
  }
  // The TSDoc reaches the page: Sluice.drain's docstring names its unit and error.
  expect(readFileSync(join(out, 'classes/Sluice.html'), 'utf8')).toContain('RangeError')
}, 120_000)
