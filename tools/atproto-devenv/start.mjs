// Start a local, offline atproto network (PLC + PDS, optionally the Bluesky
// AppView) from @atproto/dev-env, bound to 127.0.0.1 only.
//
// Run with the local Node 22 (see run.sh). Prints exactly one JSON line to
// stdout once everything is up:
//   {"pds":"http://127.0.0.1:P","plc":"http://127.0.0.1:P","appview":"http://127.0.0.1:P"|null, ...}
// then keeps running until SIGTERM/SIGINT, or until stdin is closed when
// stdin is a pipe/socket (so a parent test process dying takes us down too).
// Everything else (diagnostics, logs) goes to stderr.
//
// Configuration (env var / CLI flag):
//   ATPROTO_APPVIEW=1          --appview      also run the AppView (bsky) + bsync + ozone
//                                             (needs PostgreSQL and Redis); default 0
//   ATPROTO_APPVIEW_FALLBACK=1 --no-fallback  if the AppView fails to start, fall back to
//                                             PDS+PLC only (appview: null); default 1
//   ATPROTO_PDS_PORT           --pds-port N   default: a free port
//   ATPROTO_PLC_PORT           --plc-port N   default: a free port
//   ATPROTO_APPVIEW_PORT       --appview-port N  default: a free port
//   DB_POSTGRES_URL            default postgresql://postgres@127.0.0.1:5432/test
//   REDIS_HOST                 default 127.0.0.1:6379
//   ATPROTO_PG_SCHEMA          default pv_<random letters> (letters/_ only); schemas appview_<s>, bsync_<s>,
//                              ozone_<s> are created and DROPPED again on shutdown
//                              (ATPROTO_KEEP_DB=1 keeps them)
//   ATPROTO_OFFLINE_GUARD=1    refuse DNS lookups / connections to non-loopback hosts
//                              (default 1; blocked attempts are logged to stderr)
//   LOG_ENABLED=true           atproto server logs (pino) -> stderr

import dns from 'node:dns'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import crypto from 'node:crypto'

const T0 = Date.now()
const log = (...args) => console.error('[atproto-devenv]', ...args)

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const argVal = (name) => {
  const i = argv.indexOf(name)
  if (i >= 0 && i + 1 < argv.length) return argv[i + 1]
  const pre = argv.find((a) => a.startsWith(name + '='))
  return pre ? pre.slice(name.length + 1) : undefined
}
const truthy = (v) => /^(1|true|yes|on)$/i.test(String(v ?? ''))
const toPort = (v, name) => {
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    throw new Error(`invalid ${name}: ${v}`)
  }
  return n
}

const opts = {
  appview: flag('--appview') || truthy(process.env.ATPROTO_APPVIEW),
  fallback: flag('--no-fallback')
    ? false
    : process.env.ATPROTO_APPVIEW_FALLBACK === undefined ||
      truthy(process.env.ATPROTO_APPVIEW_FALLBACK),
  pdsPort: toPort(argVal('--pds-port') ?? process.env.ATPROTO_PDS_PORT, 'pds port'),
  plcPort: toPort(argVal('--plc-port') ?? process.env.ATPROTO_PLC_PORT, 'plc port'),
  appviewPort: toPort(
    argVal('--appview-port') ?? process.env.ATPROTO_APPVIEW_PORT,
    'appview port',
  ),
  pgUrl:
    process.env.DB_POSTGRES_URL || 'postgresql://postgres@127.0.0.1:5432/test',
  redisHost: process.env.REDIS_HOST || '127.0.0.1:6379',
  schema:
    process.env.ATPROTO_PG_SCHEMA ||
    // bsync only accepts [A-Za-z_] in schema names
    'pv_' + Array.from(crypto.randomBytes(10), (b) => String.fromCharCode(97 + (b % 26))).join(''),
  keepDb: truthy(process.env.ATPROTO_KEEP_DB),
  guard:
    process.env.ATPROTO_OFFLINE_GUARD === undefined ||
    truthy(process.env.ATPROTO_OFFLINE_GUARD),
}
if (!/^[a-z_]+$/.test(opts.schema)) {
  throw new Error(`ATPROTO_PG_SCHEMA must match [a-z_]+: ${opts.schema}`)
}

// ------------------------------------------------------- stdout hygiene
// stdout carries exactly one JSON line; route everything else to stderr.
const writeStdout = process.stdout.write.bind(process.stdout)
console.log = console.error
console.info = console.error
console.debug = console.error
console.warn = console.error
if (truthy(process.env.LOG_ENABLED) && !process.env.LOG_DESTINATION) {
  process.env.LOG_DESTINATION = '/dev/stderr'
}

// ------------------------------------------------------ loopback only
// 1) every server that listens without an explicit host gets 127.0.0.1
//    (the atproto services call app.listen(port), i.e. all interfaces).
const LOOPBACK = '127.0.0.1'
const origListen = net.Server.prototype.listen
const servers = new Set() // every server started, so a failed attempt can be cleaned up
net.Server.prototype.listen = function (...args) {
  servers.add(this)
  const a0 = args[0]
  if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, LOOPBACK)
  } else if (a0 && typeof a0 === 'object' && !a0.path && !a0.handle && !a0._handle && a0.fd === undefined) {
    if (!a0.host) args[0] = { ...a0, host: LOOPBACK }
  } else if (a0 === undefined || typeof a0 === 'function') {
    args.unshift(0, LOOPBACK)
  }
  return origListen.apply(this, args)
}
// 2) "localhost" must mean 127.0.0.1 (the dev-env builds http://localhost:P URLs).
dns.setDefaultResultOrder('ipv4first')

// 3) offline guard: nothing may resolve or connect to a non-loopback host.
const isLoopbackHost = (h) => {
  if (!h) return true
  h = String(h).replace(/^\[|\]$/g, '').toLowerCase()
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h === '::1' ||
    h === '::ffff:127.0.0.1' ||
    /^127\.\d+\.\d+\.\d+$/.test(h)
  )
}
const blocked = []
if (opts.guard) {
  const origLookup = dns.lookup
  dns.lookup = function (hostname, options, callback) {
    if (typeof options === 'function') {
      callback = options
      options = {}
    }
    if (!isLoopbackHost(hostname)) {
      blocked.push(hostname)
      log(`offline guard: blocked DNS lookup of ${hostname}`)
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (offline guard)`), {
        code: 'ENOTFOUND',
        errno: -3008,
        syscall: 'getaddrinfo',
        hostname,
      })
      process.nextTick(callback, err)
      return {}
    }
    return origLookup.call(this, hostname, options, callback)
  }
  const origPLookup = dns.promises.lookup
  dns.promises.lookup = async function (hostname, options) {
    if (!isLoopbackHost(hostname)) {
      blocked.push(hostname)
      log(`offline guard: blocked DNS lookup of ${hostname}`)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (offline guard)`), {
        code: 'ENOTFOUND',
        hostname,
      })
    }
    return origPLookup.call(this, hostname, options)
  }
  const origConnect = net.Socket.prototype.connect
  net.Socket.prototype.connect = function (...args) {
    let o = args[0]
    if (Array.isArray(o)) o = o[0] // internal normalized form
    let host
    if (o && typeof o === 'object') host = o.path ? undefined : o.host
    else if (typeof o === 'number' || /^\d+$/.test(String(o))) host = typeof args[1] === 'string' ? args[1] : undefined
    if (host && net.isIP(String(host).replace(/^\[|\]$/g, '')) && !isLoopbackHost(host)) {
      blocked.push(host)
      log(`offline guard: blocked connection to ${host}`)
      process.nextTick(() =>
        this.destroy(Object.assign(new Error(`connect ECONNREFUSED ${host} (offline guard)`), { code: 'ECONNREFUSED' })),
      )
      return this
    }
    return origConnect.apply(this, args)
  }
}

// ------------------------------------------------------------- start
// dev-env must be imported after the env tweaks above.
const devEnv = await import('@atproto/dev-env')
const pdsMod = await import('@atproto/pds')

// PDS public URL: dev-env always uses http://localhost:PORT (the only http
// form @atproto/pds's config allows). Rewrite it to http://127.0.0.1:PORT so
// the DID documents in PLC point at the same URL we print.
{
  const { PDS, envToCfg, envToSecrets } = pdsMod
  PDS.fromEnv = async function (env) {
    const cfg = envToCfg(env)
    const url = `http://${LOOPBACK}:${cfg.service.port}`
    cfg.service.publicUrl = url
    if (cfg.oauth && cfg.oauth.issuer && cfg.oauth.issuer.startsWith('http://localhost:')) {
      cfg.oauth.issuer = url
    }
    return PDS.create(cfg, envToSecrets(env))
  }
}

// Per-run scratch dir for PDS sqlite files and blobs (dev-env puts them in
// os.tmpdir()); removed on shutdown. Set after importing dev-env so that its
// cross-process port-reservation dir stays in the shared /tmp.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'atproto-devenv-'))
process.env.TMPDIR = scratch

const pgSchemas = (s) => [`appview_${s}`, `bsync_${s}`, `ozone_${s}`]
async function dropSchemas() {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: opts.pgUrl })
  await client.connect()
  try {
    for (const s of pgSchemas(opts.schema)) {
      await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
    }
  } finally {
    await client.end()
  }
}

let network = null
let mode = null
let appviewError = null
const loopbackUrl = (port) => (port ? `http://${LOOPBACK}:${port}` : null)

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    origListen.call(srv, 0, LOOPBACK, () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function startAppView() {
  process.env.DB_POSTGRES_URL = opts.pgUrl
  process.env.REDIS_HOST = opts.redisHost
  // dev-env hard-codes the AppView publicUrl to https://bsky.public.url, which
  // ends up in every image/thumbnail URL; point it at the real local AppView
  // so its /img/ endpoint (served by the AppView itself) is reachable.
  const appviewPort = opts.appviewPort ?? (await freePort())
  const params = {
    dbPostgresUrl: opts.pgUrl,
    dbPostgresSchema: opts.schema,
    plc: opts.plcPort ? { port: opts.plcPort } : {},
    pds: opts.pdsPort ? { port: opts.pdsPort } : {},
    bsky: { port: appviewPort, publicUrl: `http://${LOOPBACK}:${appviewPort}` },
  }
  return devEnv.TestNetwork.create(params)
}

async function startNoAppView() {
  return devEnv.TestNetworkNoAppView.create({
    plc: opts.plcPort ? { port: opts.plcPort } : {},
    pds: opts.pdsPort ? { port: opts.pdsPort } : {},
  })
}

async function closeServers() {
  const all = [...servers]
  servers.clear()
  await Promise.allSettled(
    all.map(
      (s) =>
        new Promise((resolve) => {
          if (!s.listening) return resolve()
          s.close(() => resolve())
          s.closeAllConnections?.()
        }),
    ),
  )
}

let shuttingDown = false
async function shutdown(reason, code = 0) {
  if (shuttingDown) return
  shuttingDown = true
  log(`shutting down (${reason})`)
  const hard = setTimeout(() => {
    log('shutdown timed out after 20s, exiting')
    process.exit(code || 1)
  }, 20_000)
  hard.unref()
  try {
    if (network) {
      if (mode === 'appview') {
        // TestNetwork.close() first waits for all queues to drain; skip that.
        const n = network
        await Promise.allSettled([
          n.ozone?.close(),
          n.bsky?.close(),
          n.bsync?.close(),
          n.pds?.close(),
          n.plc?.close(),
        ])
      } else {
        await network.close()
      }
    }
  } catch (err) {
    log('error while closing network:', err?.message ?? err)
  }
  if (mode === 'appview' && !opts.keepDb) {
    try {
      await dropSchemas()
    } catch (err) {
      log('could not drop postgres schemas:', err?.message ?? err)
    }
  }
  try {
    fs.rmSync(scratch, { recursive: true, force: true })
  } catch {}
  log('bye')
  process.exit(code)
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
process.on('SIGHUP', () => shutdown('SIGHUP'))

// Only treat stdin EOF as "parent is gone" when stdin is a pipe or socket;
// /dev/null or a terminal would otherwise stop us immediately / never.
try {
  const st = fs.fstatSync(0)
  if ((st.isFIFO() || st.isSocket()) && process.env.ATPROTO_EXIT_ON_STDIN_CLOSE !== '0') {
    process.stdin.on('data', () => {})
    process.stdin.on('end', () => shutdown('stdin closed'))
    process.stdin.on('error', () => shutdown('stdin error'))
    process.stdin.resume()
  }
} catch {}

try {
  if (opts.appview) {
    try {
      log(`starting TestNetwork (PLC + PDS + AppView); postgres ${opts.pgUrl} schemas ${pgSchemas(opts.schema).join(', ')}; redis ${opts.redisHost}`)
      network = await startAppView()
      mode = 'appview'
    } catch (err) {
      appviewError = err
      log('AppView network failed to start:', err?.stack ?? err)
      // TestNetwork.create() does not clean up what it already started
      // (PLC, a helper PDS, bsync, ...): close every server opened so far.
      await closeServers()
      if (!opts.keepDb) await dropSchemas().catch(() => {})
      if (!opts.fallback) throw err
      log('falling back to TestNetworkNoAppView (PLC + PDS only)')
    }
  }
  if (!network) {
    if (!opts.appview) log('starting TestNetworkNoAppView (PLC + PDS)')
    network = await startNoAppView()
    mode = 'no-appview'
  }
} catch (err) {
  log('failed to start:', err?.stack ?? err)
  if (mode === null) {
    try {
      fs.rmSync(scratch, { recursive: true, force: true })
    } catch {}
  }
  process.exit(1)
}

const info = {
  pds: loopbackUrl(network.pds.port),
  plc: loopbackUrl(network.plc.port),
  appview: mode === 'appview' ? loopbackUrl(network.bsky.port) : null,
  mode,
  pds_did: network.pds.ctx.cfg.service.did,
  appview_did: mode === 'appview' ? network.bsky.ctx.cfg.serverDid : null,
  admin_password: 'admin-pass',
  handle_domain: '.test',
  pg_schema: mode === 'appview' ? opts.schema : null,
  appview_error: appviewError ? String(appviewError?.message ?? appviewError) : null,
  pid: process.pid,
  startup_ms: Date.now() - T0,
}
writeStdout(JSON.stringify(info) + '\n')
log(`ready in ${info.startup_ms} ms:`, JSON.stringify(info))
