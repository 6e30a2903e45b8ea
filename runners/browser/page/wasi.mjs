/**
 * WASI preview1 for one instance in the worker, written to give the results wasmtime 50 gives
 * the reference runner (runners/wasmtime) with the same configuration: exactly the plan's args
 * and env (in order), fd 0 reading the plan's stdin bytes then end of file, fds 1 and 2 into
 * the step's sinks (sink.mjs), no preopens and no files, sockets or other descriptors.
 *
 * Like wasmtime: stdio descriptors are of unknown file type with only the read or write right
 * (fd 0 reading, 1 and 2 writing; the other direction fails with badf); setting their flags
 * fails with badf, seeking with spipe, socket calls with notsock; process and thread CPU
 * clocks give badf; a pointer out of bounds or misaligned, or an enum value out of range,
 * traps (kind `other`) instead of returning an errno. proc_exit unwinds the guest
 * (ExitError). poll_oneoff waits with Atomics.wait, never past the step's deadline: a wait
 * that reaches it ends the step as a timeout (StepTimeout).
 */

export class ExitError extends Error {
  constructor(code) {
    super(`exit status ${code}`);
    this.code = code;
  }
}

/** A WASI call trapping, as wasmtime's do on a bad pointer or argument. */
export class WasiTrap extends Error {}

/** The step's deadline passed while the guest waited in the host. */
export class StepTimeout extends Error {}

const E = { SUCCESS: 0, BADF: 8, INVAL: 28, NOTSOCK: 57, NOTSUP: 58, SPIPE: 70 };
const READ = 0x2n; // rights: fd_read
const WRITE = 0x40n; // rights: fd_write
const TAG = { CLOCK: 0, FD_READ: 1, FD_WRITE: 2 };
const SUBSCRIPTION = 48;
const EVENT = 32;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const enc = new TextEncoder();

const u32 = (x) => x >>> 0;
const nowNs = () => BigInt(Math.round(performance.now() * 1e6)); // monotonic
const realNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

/** NUL-terminated strings, and their total size: args or `name=value` environment entries. */
function cstrings(list) {
  const strings = list.map((s) => enc.encode(`${s}\0`));
  return { strings, size: strings.reduce((n, s) => n + s.length, 0) };
}

/**
 * The `wasi_snapshot_preview1` import object. `memory()` is the guest's exported memory (or
 * undefined), `sinks` {stdout, stderr} are SinkWriters, `deadline()` the current step's
 * deadline on performance.now()'s clock (or null).
 */
export function makeWasi({ args, env, stdin, memory, sinks, deadline }) {
  const fds = new Map([[0, 'stdin'], [1, 'stdout'], [2, 'stderr']]);
  const argv = cstrings(args);
  const envv = cstrings(env.map(([k, v]) => `${k}=${v}`));
  let stdinPos = 0;

  const mem = () => {
    const m = memory();
    if (!m) throw new WasiTrap('missing required memory export');
    return m.buffer;
  };
  /** `ptr` checked for `size` bytes at alignment `align`; returns [DataView, ptr]. */
  const at = (ptr, size, align = 1) => {
    const buf = mem();
    const p = u32(ptr);
    if (p % align) throw new WasiTrap(`pointer ${p} not aligned to ${align}`);
    if (p + size > buf.byteLength) throw new WasiTrap(`pointer out of bounds: [${p}, ${p + size})`);
    return [new DataView(buf), p];
  };
  const putU32 = (ptr, x) => { const [v, p] = at(ptr, 4, 4); v.setUint32(p, x, true); };
  const putU64 = (ptr, x) => { const [v, p] = at(ptr, 8, 8); v.setBigUint64(p, x, true); };
  /** The iovec array at `iovs` as views into guest memory, every piece checked first. */
  const iovecs = (iovs, count) => {
    const [v, p] = at(iovs, 8 * u32(count), 4);
    const pieces = [];
    for (let i = 0; i < u32(count); i++) {
      const [, q] = at(v.getUint32(p + 8 * i, true), v.getUint32(p + 8 * i + 4, true));
      pieces.push(new Uint8Array(v.buffer, q, v.getUint32(p + 8 * i + 4, true)));
    }
    return pieces;
  };
  const sizes = ({ strings, size }) => (countPtr, sizePtr) => {
    putU32(sizePtr, size); // in wasmtime's order: a bad count pointer traps after this
    putU32(countPtr, strings.length);
    return E.SUCCESS;
  };
  const fill = ({ strings, size }) => (listPtr, bufPtr) => {
    const [v, list] = at(listPtr, 4 * strings.length, 4);
    const [, buf] = at(bufPtr, size);
    let pos = buf;
    strings.forEach((s, i) => {
      v.setUint32(list + 4 * i, pos, true);
      new Uint8Array(v.buffer, pos, s.length).set(s);
      pos += s.length;
    });
    return E.SUCCESS;
  };
  const clock = (id) => {
    if (id === 0 || id === 1) return id;
    if (id === 2 || id === 3) return null; // process and thread CPU time: badf
    throw new WasiTrap(`invalid clock id ${id}`);
  };
  const isStdio = (fd) => fds.has(u32(fd));
  /** Fails with `stdio` on a stdio descriptor and badf on any other: nothing else is open. */
  const only = (stdio) => (fd) => (isStdio(fd) ? stdio : E.BADF);
  /** Fails with spipe on a descriptor of one of `kinds`, else with badf (no such right). */
  const seekable = (...kinds) => (fd) => (kinds.includes(fds.get(u32(fd))) ? E.SPIPE : E.BADF);
  const badf = () => E.BADF;

  // fd_write and fd_read check the guest's iovecs before the descriptor, as wasmtime does.
  function write(fd, iovs, count, nwrittenPtr) {
    const pieces = iovecs(iovs, count);
    at(nwrittenPtr, 4, 4);
    const kind = fds.get(u32(fd));
    if (kind !== 'stdout' && kind !== 'stderr') return E.BADF;
    let total = 0;
    for (const piece of pieces) {
      if (piece.length) sinks[kind].write(piece);
      total += piece.length;
    }
    putU32(nwrittenPtr, total);
    return E.SUCCESS;
  }

  function read(fd, iovs, count, nreadPtr) {
    const pieces = iovecs(iovs, count);
    at(nreadPtr, 4, 4);
    if (fds.get(u32(fd)) !== 'stdin') return E.BADF;
    const start = stdinPos;
    for (const piece of pieces) {
      const take = Math.min(piece.length, stdin.length - stdinPos);
      piece.set(stdin.subarray(stdinPos, stdinPos + take));
      stdinPos += take;
      if (take < piece.length) break;
    }
    putU32(nreadPtr, stdinPos - start);
    return E.SUCCESS;
  }

  /** Sleep until monotonic `dueNs`, or throw StepTimeout at the step's deadline. */
  function waitUntil(dueNs) {
    for (;;) {
      const left = Number(dueNs - nowNs()) / 1e6;
      if (left <= 0) return;
      const end = deadline();
      const toDeadline = end === null ? Infinity : end - performance.now();
      if (toDeadline <= 0) throw new StepTimeout('the step\'s timeout passed while the guest waited in poll_oneoff');
      Atomics.wait(sleeper, 0, 0, Math.min(left, toDeadline));
    }
  }

  /**
   * wasmtime's results: stdin, stdout and stderr are always ready, so with any of them only
   * they are reported; with clocks alone, wait for the first, then report every one due.
   */
  function poll(subs, events, n, neventsPtr) {
    n = u32(n);
    if (n === 0) return E.INVAL;
    const [v, s] = at(subs, n * SUBSCRIPTION, 8);
    at(events, 0, 8); // misaligned result pointers trap before any wait
    at(neventsPtr, 0, 4);
    const start = nowNs();
    const due = new Map();
    const tags = [];
    for (let i = 0; i < n; i++) {
      const o = s + i * SUBSCRIPTION;
      const tag = v.getUint8(o + 8);
      if (tag === TAG.CLOCK) {
        const id = v.getUint32(o + 16, true);
        const timeout = v.getBigUint64(o + 24, true);
        const flags = v.getUint16(o + 40, true);
        if (flags & ~1) return E.INVAL;
        const abs = flags & 1;
        if (id === 1) due.set(i, abs ? timeout : start + timeout);
        else if (id === 0) {
          const wait = abs ? timeout - realNs() : timeout;
          due.set(i, start + (wait > 0n ? wait : 0n));
        } else return E.INVAL;
      } else if (tag === TAG.FD_READ || tag === TAG.FD_WRITE) {
        const kind = fds.get(v.getUint32(o + 16, true));
        const ok = tag === TAG.FD_READ ? kind === 'stdin' : kind === 'stdout' || kind === 'stderr';
        if (!ok) return E.BADF;
      } else return E.INVAL;
      tags.push(tag);
    }
    const clocksOnly = due.size === n;
    if (clocksOnly) waitUntil([...due.values()].reduce((a, b) => (a < b ? a : b)));
    const now = nowNs();
    const fired = [];
    tags.forEach((tag, i) => {
      if (tag === TAG.CLOCK && (!clocksOnly || due.get(i) > now)) return;
      fired.push([v.getBigUint64(s + i * SUBSCRIPTION, true), tag]);
    });
    const [w, e] = at(events, fired.length * EVENT, 8);
    fired.forEach(([userdata, tag], k) => {
      const o = e + k * EVENT;
      new Uint8Array(w.buffer, o, EVENT).fill(0);
      w.setBigUint64(o, userdata, true);
      w.setUint8(o + 10, tag);
      if (tag !== TAG.CLOCK) w.setBigUint64(o + 16, 1n, true);
    });
    putU32(neventsPtr, fired.length);
    return E.SUCCESS;
  }

  return {
    args_sizes_get: sizes(argv),
    args_get: fill(argv),
    environ_sizes_get: sizes(envv),
    environ_get: fill(envv),
    clock_res_get(id, resPtr) {
      if (clock(id) === null) return E.BADF;
      putU64(resPtr, 1n);
      return E.SUCCESS;
    },
    clock_time_get(id, _precision, timePtr) {
      const c = clock(id);
      if (c === null) return E.BADF;
      putU64(timePtr, c === 0 ? realNs() : nowNs());
      return E.SUCCESS;
    },
    fd_advise(fd, _offset, _len, advice) {
      if (u32(advice) > 5) throw new WasiTrap(`invalid advice ${advice}`);
      return E.BADF;
    },
    fd_allocate: badf,
    fd_close(fd) {
      return fds.delete(u32(fd)) ? E.SUCCESS : E.BADF;
    },
    fd_datasync: badf,
    fd_fdstat_get(fd, statPtr) {
      const kind = fds.get(u32(fd));
      if (!kind) return E.BADF;
      const [v, p] = at(statPtr, 24, 8);
      const rights = kind === 'stdin' ? READ : WRITE;
      new Uint8Array(v.buffer, p, 24).fill(0); // file type unknown, no flags
      v.setBigUint64(p + 8, rights, true);
      v.setBigUint64(p + 16, rights, true);
      return E.SUCCESS;
    },
    fd_fdstat_set_flags: badf,
    fd_fdstat_set_rights: badf,
    fd_filestat_get(fd, statPtr) {
      if (!isStdio(fd)) return E.BADF;
      const [v, p] = at(statPtr, 64, 8);
      new Uint8Array(v.buffer, p, 64).fill(0);
      return E.SUCCESS;
    },
    fd_filestat_set_size: badf,
    fd_filestat_set_times: badf,
    fd_pread: seekable('stdin'),
    fd_prestat_get: badf,
    fd_prestat_dir_name: badf,
    fd_pwrite: seekable('stdout', 'stderr'),
    fd_read: read,
    fd_readdir: badf,
    fd_renumber(from, to) {
      [from, to] = [u32(from), u32(to)];
      if (!fds.has(from) || !fds.has(to)) return E.BADF;
      const kind = fds.get(from);
      fds.delete(from);
      fds.set(to, kind);
      return E.SUCCESS;
    },
    fd_seek(fd, _offset, whence) {
      if (u32(whence) > 2) throw new WasiTrap(`invalid whence ${whence}`);
      return isStdio(fd) ? E.SPIPE : E.BADF;
    },
    fd_sync: badf,
    fd_tell: only(E.SPIPE),
    fd_write: write,
    path_create_directory: badf,
    path_filestat_get: badf,
    path_filestat_set_times: badf,
    path_link: badf,
    path_open: badf,
    path_readlink: badf,
    path_remove_directory: badf,
    path_rename: badf,
    path_symlink: badf,
    path_unlink_file: badf,
    poll_oneoff: poll,
    proc_exit(code) {
      throw new ExitError(u32(code));
    },
    proc_raise: () => E.NOTSUP,
    sched_yield: () => E.SUCCESS,
    random_get(bufPtr, len) {
      const [v, p] = at(bufPtr, u32(len));
      for (let off = 0; off < u32(len); off += 65536) {
        crypto.getRandomValues(new Uint8Array(v.buffer, p + off, Math.min(65536, u32(len) - off)));
      }
      return E.SUCCESS;
    },
    sock_accept: only(E.NOTSOCK),
    sock_recv: only(E.NOTSOCK),
    sock_send: only(E.NOTSOCK),
    sock_shutdown: only(E.NOTSOCK),
  };
}
