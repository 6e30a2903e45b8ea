// The prelude of a js plan's realm (gojs.mjs): evaluated first in a fresh node:vm context, it is
// a function the runner calls once with its hooks. It builds, inside the realm, everything
// wasm_exec.js needs of its global object (fs, crypto, performance, TextEncoder, TextDecoder,
// setTimeout, clearTimeout, console), removes what the language itself does not define, and
// returns the helpers the runner drives the realm with.
//
// Rules that keep the host out of the guest's reach (a guest reaches, through syscall/js, every
// object of this realm that it can name or walk to):
// - Nothing of the runner's realm is stored where a guest can walk: the hooks are taken out of
//   their object at once and live only in closures; every value a hook returns is a primitive.
// - A hook is only ever called directly, inside a `try` whose `catch` drops what it caught: an
//   exception of the runner's realm (its stack overflowing, say) never reaches guest code; a
//   fresh error of this realm takes its place.
// - Error.prepareStackTrace is fixed to undefined and the global Error cannot be replaced: a
//   stack-trace hook would be handed call sites of the runner's own frames.
'use strict';
(hooks) => {
  const { write, schedule, unschedule, now, random, encodedLength, encodeInto, decode, exit,
    failure } = hooks;
  const FAILED = '\u0000host-failure';
  const g = globalThis;
  const Err = Error;
  const TypeErr = TypeError;
  const { defineProperty, getOwnPropertyNames } = Object;
  const { deleteProperty } = Reflect;
  const U8 = Uint8Array;
  const WA = WebAssembly;
  const Instance = WebAssembly.Instance;
  const then = Promise.prototype.then;
  const { apply } = Reflect;

  // -- what the language defines stays; whatever an embedder added goes ----------------------
  const KEEP = new Set(['Object', 'Function', 'Array', 'Number', 'parseFloat', 'parseInt',
    'Infinity', 'NaN', 'undefined', 'Boolean', 'String', 'Symbol', 'Date', 'Promise', 'RegExp',
    'Error', 'AggregateError', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError',
    'TypeError', 'URIError', 'SuppressedError', 'globalThis', 'JSON', 'Math', 'Intl',
    'ArrayBuffer', 'SharedArrayBuffer', 'Atomics', 'Uint8Array', 'Int8Array', 'Uint16Array',
    'Int16Array', 'Uint32Array', 'Int32Array', 'Float16Array', 'Float32Array', 'Float64Array',
    'Uint8ClampedArray', 'BigUint64Array', 'BigInt64Array', 'DataView', 'Map', 'Set', 'WeakMap',
    'WeakSet', 'WeakRef', 'FinalizationRegistry', 'BigInt', 'Proxy', 'Reflect', 'Iterator',
    'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'unescape',
    'eval', 'isFinite', 'isNaN', 'DisposableStack', 'AsyncDisposableStack', 'WebAssembly']);
  for (const name of getOwnPropertyNames(g)) {
    if (!KEEP.has(name)) deleteProperty(g, name);
  }
  const leftovers = getOwnPropertyNames(g).filter((name) => !KEEP.has(name)).join(', ');
  defineProperty(Err, 'prepareStackTrace', { value: undefined, writable: false,
    enumerable: false, configurable: false });
  defineProperty(g, 'Error', { value: Err, writable: false, enumerable: false,
    configurable: false });

  // -- calling the runner ----------------------------------------------------------------------
  /** A hook's answer: a number (or other primitive), or a string saying why it failed. */
  const answer = (r, fallback) => {
    if (typeof r === 'string') throw new Err(r);
    return r === undefined ? fallback : r;
  };
  const hostWrite = (fd, buf) => {
    let r;
    try {
      r = write(fd, buf);
    } catch {
      r = 'the runner could not take the output';
    }
    return answer(r, 0);
  };

  // -- fs: writes go to the runner as they happen; everything else fails as wasm_exec's own --
  const enosys = () => {
    const err = new Err('not implemented');
    err.code = 'ENOSYS';
    return err;
  };
  const fails = (n) => function () { arguments[n](enosys()); };
  g.fs = {
    constants: { O_WRONLY: -1, O_RDWR: -1, O_CREAT: -1, O_TRUNC: -1, O_APPEND: -1, O_EXCL: -1,
      O_DIRECTORY: -1 },
    writeSync(fd, buf) { return hostWrite(fd, buf); },
    write(fd, buf, offset, length, position, callback) {
      if (offset !== 0 || length !== buf.length || position !== null) {
        callback(enosys());
        return;
      }
      let n;
      try {
        n = hostWrite(fd, buf);
      } catch (e) {
        callback(e);
        return;
      }
      callback(null, n);
    },
    chmod: fails(2), chown: fails(3), close: fails(1), fchmod: fails(2), fchown: fails(3),
    fstat: fails(1), fsync(fd, callback) { callback(null); }, ftruncate: fails(2),
    lchown: fails(3), link: fails(2), lstat: fails(1), mkdir: fails(2), open: fails(3),
    read: fails(5), readdir: fails(1), readlink: fails(1), rename: fails(2), rmdir: fails(1),
    stat: fails(1), symlink: fails(2), truncate: fails(2), unlink: fails(1), utimes: fails(3),
  };

  // -- the rest of what wasm_exec.js requires ----------------------------------------------
  g.crypto = {
    getRandomValues(array) {
      let r;
      try {
        r = random(array);
      } catch {
        r = 'the runner could not fill the array';
      }
      if (typeof r === 'string') throw new TypeErr(r);
      return array;
    },
  };
  g.performance = {
    now() {
      try {
        return now();
      } catch {
        throw new Err('the runner could not read its clock');
      }
    },
  };
  g.TextEncoder = class TextEncoder {
    get encoding() { return 'utf-8'; }

    encode(input = '') {
      const s = `${input}`;
      let n;
      try {
        n = encodedLength(s);
      } catch {
        throw new Err('the runner could not encode the string');
      }
      const out = new U8(n);
      let r;
      try {
        r = encodeInto(s, out);
      } catch {
        r = 'the runner could not encode the string';
      }
      answer(r);
      return out;
    }
  };
  g.TextDecoder = class TextDecoder {
    get encoding() { return 'utf-8'; }

    decode(input) {
      if (input === undefined) return '';
      let r;
      try {
        r = decode(input);
      } catch {
        r = null;
      }
      if (typeof r !== 'string') throw new TypeErr('TextDecoder.decode takes an ArrayBuffer or a view of one');
      return r;
    }
  };

  // setTimeout and clearTimeout: the runner keeps the deadlines and fires the callbacks
  // (`fire`) only while a run step waits.
  const timers = new Map();
  let nextTimer = 1;
  g.setTimeout = (callback, delay, ...args) => {
    const id = nextTimer++;
    timers.set(id, () => callback(...args));
    let r;
    try {
      r = schedule(id, +delay || 0);
    } catch {
      r = 'the runner could not schedule the timer';
    }
    answer(r);
    return id;
  };
  g.clearTimeout = (id) => {
    if (!timers.delete(id)) return;
    try {
      unschedule(id);
    } catch {
      throw new Err('the runner could not clear the timer');
    }
  };

  const text = (args) => {
    const parts = [];
    for (const a of args) {
      try {
        parts.push(typeof a === 'string' ? a : `${a}`);
      } catch {
        parts.push('[value]');
      }
    }
    return `${parts.join(' ')}\n`;
  };
  const encoder = new g.TextEncoder();
  const printer = (fd) => (...args) => { hostWrite(fd, encoder.encode(text(args))); };
  g.console = { log: printer(1), info: printer(1), debug: printer(1), warn: printer(2),
    error: printer(2), trace: printer(2) };

  // -- the runner's helpers (returned, never stored in the realm) --------------------------
  let runFailed = false;
  let runError;
  return {
    /** A Go instance of wasm_exec.js's class with the plan's argv and env (JSON text). */
    newGo(argvJson, envJson) {
      const go = new g.Go();
      go.argv = JSON.parse(argvJson);
      const env = {};
      for (const [k, v] of JSON.parse(envJson)) {
        defineProperty(env, k, { value: v, writable: true, enumerable: true, configurable: true });
      }
      go.env = env;
      go.exit = (code) => {
        try {
          exit(code);
        } catch {
          // the runner keeps no exit it cannot record; the program has exited all the same
        }
      };
      return go;
    },
    /** importObject[module], made if missing. */
    namespace(go, module) {
      const imports = go.importObject;
      if (!Object.hasOwn(imports, module)) imports[module] = {};
      return imports[module];
    },
    /**
     * A host function: an instance of `trampoline` (a compiled module importing t.f) created in
     * this realm, whose t.f calls `call(args)`. `call` answers FAILED when the host function
     * failed (the runner keeps why); the guest then sees an error of this realm.
     */
    hostFunction(trampoline, call) {
      const shim = (...args) => {
        let r;
        try {
          r = call(args);
        } catch {
          throw new Err('the host function failed');
        }
        if (r === FAILED) {
          let why;
          try {
            why = failure();
          } catch {
            why = 'the host function failed';
          }
          throw new Err(`${why}`);
        }
        return r;
      };
      return new Instance(trampoline, { t: { f: shim } }).exports.fn;
    },
    instantiate(module, go) { return new Instance(module, go.importObject); },
    /** go.run(instance): runs main until it returns or blocks; a rejection is kept. */
    start(go, instance) {
      runFailed = false;
      runError = undefined;
      apply(then, go.run(instance), [undefined, (e) => {
        runFailed = true;
        runError = e;
      }]);
    },
    /** [failed, error] of the last start(), as far as promise jobs have run. */
    runOutcome() { return [runFailed, runError]; },
    /** Run timer `id`'s callback (it throws what the callback throws). */
    fire(id) {
      const callback = timers.get(id);
      timers.delete(id);
      if (callback) callback();
    },
    intrinsics() {
      return { RangeError: RangeError.prototype, RuntimeError: WA.RuntimeError.prototype,
        Memory: WA.Memory.prototype };
    },
    FAILED,
    leftovers,
  };
};
