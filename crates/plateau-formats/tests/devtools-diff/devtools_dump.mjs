// Prints, for each snapshot file given, what Chrome DevTools' own HeapSnapshot engine makes
// of it: per node [id, className, selfSize, retainedSize], and the Summary aggregates
// [classKey, count, self, maxRet]. Output: one JSON object keyed by file.
//
// The engine is the npm package heap-snapshot-toolkit (fixtures/v8/oracle: `npm ci`), or the
// copy at $HEAP_SNAPSHOT_TOOLKIT (a path to its index.js).
import { createReadStream } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const toolkit = process.env.HEAP_SNAPSHOT_TOOLKIT ||
  resolve(here, '../../../../fixtures/v8/oracle/node_modules/heap-snapshot-toolkit/index.js')
const { parse } = await import(pathToFileURL(toolkit).href)

const out = {}
for (const file of process.argv.slice(2)) {
  const stream = createReadStream(file)
  stream.setEncoding('utf8')
  try {
    const s = await parse(stream)
    const nfc = s.nodeFieldCount
    const nodes = []
    for (let ord = 0; ord < s.nodeCount; ord++) {
      const n = s.createNode(ord * nfc)
      nodes.push([n.id(), n.className(), n.selfSize(), n.retainedSize()])
    }
    const agg = s.aggregatesWithFilter({})
    const classes = Object.keys(agg).map(k => [k, agg[k].count, agg[k].self, agg[k].maxRet])
    out[file] = { nodes, classes }
  } catch (e) {
    out[file] = { error: String(e) }
  }
}
process.stdout.write(JSON.stringify(out))
