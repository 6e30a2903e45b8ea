"""js plans (Go's js/wasm target, runners/PROTOCOL.md "js plans") on every runner that declares
``go_js``: go.run and its outcomes, exports before, during and after the program, a host import
re-entering an export during run, timeouts, output per step, and a hostile guest that looks for
the host through syscall/js. Modules are built with the default gc toolchain."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import cachedir, engines
from harness.observation import Observation
from harness.plan import OUTPUT_BYTES, PROTOCOL
from harness.runner import Runner, RunnerFailure
from harness.targets import go_js
from harness.toolchains import DEFAULT, ToolchainUnavailable, resolve
from harness.values import Value
from tests.conftest import started_runner

JS_ENGINES = [e for e in engines.known() if "js" in engines.targets(e)]

PROGRAM = """\
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

//go:wasmimport host callback
func callback(a int32, b int64) int64

//go:wasmexport add
func add(a, b int32) int32 {
	fmt.Println("add", a, b)
	return a + b
}

//go:wasmexport neg64
func neg64(x int64) int64 { return -x }

//go:wasmexport id32
func id32(x float32) float32 { return x }

//go:wasmexport id64
func id64(x float64) float64 { return x }

//go:wasmexport half
func half(x float64) float64 { return x / 2 }

//go:wasmexport yieldy
func yieldy() int32 {
	runtime.Gosched()
	return 7
}

//go:wasmexport sum
func sum(a int32, b int64) int64 {
	ch := make(chan int64)
	go func() { ch <- int64(a); ch <- b }()
	return <-ch + <-ch
}

//go:wasmexport spin
func spin() {
	for {
	}
}

func main() {
	mode := os.Args[1]
	fmt.Println("main", mode, os.Getenv("K"))
	switch mode {
	case "return":
		go fmt.Println("never")
		return
	case "exit":
		defer fmt.Println("deferred")
		os.Exit(3)
	case "sleep":
		go func() {
			time.Sleep(10 * time.Millisecond)
			fmt.Println("slept")
		}()
	case "callback":
		fmt.Println("got", callback(123, 456))
	case "loop":
		for {
		}
	}
	select {}
}
"""

HOSTILE = """\
// A hostile guest: it looks for anything of the host it can reach through syscall/js, prints
// one line per finding ("FOUND ..."), then how many objects it walked.
package main

import (
	"fmt"
	"syscall/js"
	"unsafe"
)

//go:wasmimport env probe
func probe(x int32) int32

var (
	global   = js.Global()
	object   = global.Get("Object")
	reflect  = global.Get("Reflect")
	function = global.Get("Function")
	objProto = object.Get("prototype")
	found    = 0
	thrown   []js.Value // every JavaScript exception caught, walked like the rest
)

//go:wasmexport again
func again() {
	walk("export")
	fmt.Printf("findings: %d\\n", found)
}

// goObject is wasm_exec.js's Go instance: syscall/js keeps it as reference 6 (the global is 5).
func goObject() js.Value {
	v := js.Global()
	ref := (*uint64)(unsafe.Pointer(&v))
	*ref = *ref&^0xffffffff | 6
	return v
}

func report(format string, args ...any) {
	found++
	fmt.Printf("FOUND "+format+"\\n", args...)
}

// try calls f; a JavaScript exception (a panic of syscall/js) becomes a string.
func try(f func() js.Value) (v js.Value, err string) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Sprint(r)
			if e, ok := r.(js.Error); ok {
				thrown = append(thrown, e.Value)
			}
		}
	}()
	return f(), ""
}

const hostProbe = `return [typeof process === "object" && process !== null && typeof process.versions,
 typeof require, typeof Deno, typeof Bun, typeof fetch, typeof XMLHttpRequest, typeof WebSocket,
 typeof importScripts, typeof postMessage].join(",")`

// compiles tries a Function constructor: one that compiles code from a string is a way out.
func compiles(where string, ctor js.Value) {
	if ctor.Type() != js.TypeFunction {
		return
	}
	if v, err := try(func() js.Value { return ctor.Invoke(hostProbe).Invoke() }); err == "" {
		report("%s: a Function constructor compiled code: %s", where, v.String())
	}
}

func isObject(v js.Value) bool {
	t := v.Type()
	return t == js.TypeObject && !v.IsNull() || t == js.TypeFunction
}

// walk visits every object reachable from the global object, the Go instance and the errors
// caught so far, through own properties (values, getters, setters) and prototypes. Each one's
// prototype chain must end in this realm's Object.prototype. go._values (the JavaScript values
// Go holds references to) is left out: it holds what this walk itself reached.
func walk(when string) {
	seen := global.Get("Set").New()
	type item struct {
		v    js.Value
		path string
	}
	queue := []item{{global, "globalThis"}, {goObject(), "go"}}
	for i, e := range thrown {
		queue = append(queue, item{e, fmt.Sprintf("thrown[%d]", i)})
	}
	visited := 0
	for len(queue) > 0 && visited < 30000 {
		it := queue[0]
		queue = queue[1:]
		if !isObject(it.v) || seen.Call("has", it.v).Bool() {
			continue
		}
		seen.Call("add", it.v)
		visited++
		last := it.v
		for p := object.Call("getPrototypeOf", last); !p.IsNull(); p = object.Call("getPrototypeOf", last) {
			last = p
		}
		if !last.Equal(objProto) && !last.Equal(it.v) {
			report("%s (%s): its prototype chain ends outside this realm", it.path, when)
			c, _ := try(func() js.Value { return last.Get("constructor") })
			compiles(it.path+".<root>.constructor", c)
		}
		if it.v.Type() == js.TypeFunction {
			if c, _ := try(func() js.Value { return it.v.Get("constructor") }); !c.Equal(function) {
				compiles(it.path+".constructor", c)
			}
		}
		queue = append(queue, item{object.Call("getPrototypeOf", it.v), it.path + ".__proto__"})
		names, err := try(func() js.Value { return reflect.Call("ownKeys", it.v) })
		if err != "" {
			continue
		}
		for i := 0; i < names.Length(); i++ {
			name := names.Index(i)
			d, err := try(func() js.Value { return object.Call("getOwnPropertyDescriptor", it.v, name) })
			if err != "" || d.IsUndefined() {
				continue
			}
			label := it.path + "." + global.Get("String").Invoke(name).String()
			if label == "go._values" {
				continue
			}
			for _, k := range []string{"value", "get", "set"} {
				if x := d.Get(k); isObject(x) {
					queue = append(queue, item{x, label})
				}
			}
		}
	}
	fmt.Printf("walked %d objects (%s)\\n", visited, when)
}

func main() {
	for _, n := range []string{"process", "require", "Deno", "Bun", "fetch", "XMLHttpRequest",
		"WebSocket", "importScripts", "postMessage", "Worker", "BroadcastChannel", "EventSource",
		"WebTransport", "indexedDB", "caches"} {
		fmt.Printf("global %s: %s\\n", n, global.Get(n).Type())
	}
	if proc := global.Get("process"); isObject(proc) { // wasm_exec.js's own stub is harmless
		for _, k := range []string{"versions", "exit", "binding", "getBuiltinModule", "env", "mainModule"} {
			if !proc.Get(k).IsUndefined() {
				report("process.%s is there", k)
			}
		}
	}
	compiles("globalThis.constructor.constructor", global.Get("constructor").Get("constructor"))
	compiles("Function", function)
	// A stack-trace hook would be handed call sites of every frame, the host's included.
	hook := js.FuncOf(func(this js.Value, args []js.Value) any {
		report("Error.prepareStackTrace ran")
		if len(args) > 1 {
			compiles("callsites.constructor", args[1].Get("constructor"))
		}
		return "hooked"
	})
	try(func() js.Value { global.Get("Error").Set("prepareStackTrace", hook); return js.Null() })
	fake := object.New()
	fake.Set("prepareStackTrace", hook)
	reflect.Call("set", global, "Error", fake)
	fmt.Println("Error.prepareStackTrace is", global.Get("Error").Get("prepareStackTrace").Type())
	// A host function that fails, called from JavaScript: the error comes back to the guest,
	// and its stack runs through the runner's frames.
	fail := goObject().Get("importObject").Get("env").Get("fail")
	_, err := try(func() js.Value { return fail.Invoke(1) })
	fmt.Println("env.fail is", fail.Type(), "and threw:", err != "")
	for _, e := range thrown {
		if isObject(e) {
			e.Get("stack")
		}
	}
	viaJS := goObject().Get("importObject").Get("env").Get("probe").Invoke(8).Int()
	fmt.Println("probe import answers", probe(7), viaJS)
	walk("main")
	select {}
}
"""

CALLBACK = {"module": "host", "name": "callback", "params": ["i32", "i64"], "results": ["i64"],
            "do": [{"call": "sum", "args": [{"param": 0}, {"param": 1}]}],
            "return": [{"result": 0}]}
PROBE = {"module": "env", "name": "probe", "params": ["i32"], "results": ["i32"], "do": [],
         "return": [{"param": 0}]}
FAIL = {"module": "env", "name": "fail", "params": ["i32"], "results": [],
        "do": [{"trap": "on purpose"}], "return": []}


def build(source: str, where: Path) -> tuple[Path, str]:
    """`source` built as main.go with GOOS=js GOARCH=wasm by the default gc toolchain."""
    try:
        go = resolve(DEFAULT).binary
    except ToolchainUnavailable as e:
        pytest.skip(f"{DEFAULT} unavailable: {e}")
    where.mkdir(parents=True, exist_ok=True)
    (where / "go.mod").write_text("module guest\n\ngo 1.24\n", encoding="utf-8")
    (where / "main.go").write_text(source, encoding="utf-8")
    env = {"PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(where),
           "GOOS": "js", "GOARCH": "wasm", "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "",
           "GOWORK": "off", "GOENV": "off", "GOTELEMETRY": "off", "CGO_ENABLED": "0",
           "GOCACHE": str(cachedir.sub("gocache")), "GOPATH": str(cachedir.sub("gopath"))}
    subprocess.run([str(go), "build", "-trimpath", "-o", "m.wasm", "."], cwd=where, env=env,
                   check=True, capture_output=True, timeout=600)
    wasm = where / "m.wasm"
    return wasm, hashlib.sha256(wasm.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    root = tmp_path_factory.mktemp("js-guests")
    return {"program": build(PROGRAM, root / "program"), "hostile": build(HOSTILE, root / "hostile")}


@pytest.fixture(scope="module")
def wasm_exec() -> dict[str, str]:
    path = resolve(DEFAULT).wasm_exec
    assert path is not None, f"{DEFAULT} has no wasm_exec.js"
    return go_js(path)


@pytest.fixture(scope="module", params=JS_ENGINES)
def js_runner(request: pytest.FixtureRequest) -> Iterator[Runner]:
    r = started_runner(request.param)
    assert "go_js" in r.info().capabilities, f"{request.param} runs js but does not declare go_js"
    yield r
    r.close()


def i32(v: int) -> dict[str, str]:
    return Value("i32", v & 0xFFFFFFFF).to_protocol()


def i64(v: int) -> dict[str, str]:
    return Value("i64", v & 0xFFFFFFFFFFFFFFFF).to_protocol()


RUN: dict[str, Any] = {"run": {}}


def call(name: str, *args: dict[str, str], timeout_ms: int = 10_000) -> dict[str, Any]:
    return {"call": name, "args": list(args), "timeout_ms": timeout_ms}


def plan(module: tuple[Path, str], wasm_exec: dict[str, str], steps: list[dict[str, Any]],
         mode: str = "block", imports: list[dict[str, Any]] | None = None,
         stdin_b64: str = "") -> dict[str, Any]:
    path, sha = module
    return {"type": "plan", "protocol": PROTOCOL, "id": f"js-{mode}-{len(steps)}",
            "module": {"path": str(path), "sha256": sha},
            "wasi": {"args": ["guest.wasm", mode], "env": [["K", "v"]], "stdin_b64": stdin_b64},
            "limits": {"memory_bytes": 1 << 30, "output_bytes": OUTPUT_BYTES},
            "imports": [CALLBACK] if imports is None else imports,
            "steps": [{"timeout_ms": 10_000, **s} for s in steps],
            "target": "js", "go_js": wasm_exec}


def run(runner: Runner, p: dict[str, Any]) -> Observation:
    obs = runner.run(p)
    assert obs.load_ok, obs.load_message
    return obs


def test_exports_while_main_blocks(js_runner, modules, wasm_exec):
    """run ends idle once main blocks; exports then return exact values, output per step."""
    for _ in range(3):  # the same bytes in the same step every time
        obs = run(js_runner, plan(modules["program"], wasm_exec, [
            RUN, call("add", i32(2), i32(3)), call("add", i32(2147483647), i32(1)),
            call("neg64", i64(-(2**63) + 1)), call("id32", {"t": "f32", "v": "0x7fa00001"}),
            call("id64", {"t": "f64", "v": "0x7ff4000000000001"}),
            call("half", {"t": "f64", "v": "0x4014000000000000"}), call("yieldy")]))
        started, add, wrap, neg, nan32, nan64, half, yieldy = obs.steps
        assert (started.outcome, started.results, started.stdout) == ("ok", (), b"main block v\n")
        assert add.results == (Value("i32", 5),) and add.stdout == b"add 2 3\n"
        assert wrap.results == (Value("i32", 0x80000000),) and wrap.stdout == b"add 2147483647 1\n"
        assert neg.results == (Value("i64", 2**63 - 1),) and neg.stdout == b""
        assert nan32.results == (Value("f32", 0x7FA00001),)
        assert nan64.results == (Value("f64", 0x7FF4000000000001),)
        assert half.results == (Value("f64", 0x4004000000000000),)
        assert yieldy.results == (Value("i32", 7),)
        assert all(s.stderr == b"" for s in obs.steps)


def test_main_returns_then_exports(js_runner, modules, wasm_exec):
    """main returning is exit 0 (queued goroutines never run); afterwards an export that does not
    yield still returns, and one that yields (Gosched, or printing: fmt writes through
    wasm_exec's fs.write and its callback) throws out of wasm_exec.js (trap host_error)."""
    obs = run(js_runner, plan(modules["program"], wasm_exec,
                              [RUN, call("neg64", i64(5)), call("yieldy"), call("add", i32(1), i32(1))],
                              mode="return"))
    ran, neg, yieldy, add = obs.steps
    assert (ran.outcome, ran.code, ran.stdout) == ("exit", 0, b"main return v\n")
    assert neg.outcome == "ok" and neg.results == (Value("i64", 2**64 - 5),)
    assert (yieldy.outcome, yieldy.trap, yieldy.stdout) == ("trap", "host_error", b""), yieldy.message
    assert add.outcome == "trap" and add.stdout == b""  # its kind differs with where Go stops


def test_os_exit(js_runner, modules, wasm_exec):
    obs = run(js_runner, plan(modules["program"], wasm_exec, [RUN], mode="exit"))
    (ran,) = obs.steps
    assert (ran.outcome, ran.code, ran.stdout, ran.stderr) == ("exit", 3, b"main exit v\n", b"")


def test_run_waits_for_a_sleeping_goroutine(js_runner, modules, wasm_exec):
    """The run step fires Go's 10 ms timer, then ends idle with the goroutine's output."""
    obs = run(js_runner, plan(modules["program"], wasm_exec, [RUN, call("add", i32(1), i32(1))],
                              mode="sleep"))
    ran, add = obs.steps
    assert (ran.outcome, ran.stdout) == ("ok", b"main sleep v\nslept\n")
    assert ran.duration_ms >= 10
    assert add.results == (Value("i32", 2),) and add.stdout == b"add 1 1\n"


def test_export_before_run(js_runner, modules, wasm_exec):
    """An export before go.run throws wasm_exec.js's TypeError (trap host_error); run still starts
    the program afterwards."""
    obs = run(js_runner, plan(modules["program"], wasm_exec,
                              [call("add", i32(1), i32(2)), RUN, call("add", i32(1), i32(2))]))
    early, ran, add = obs.steps
    assert (early.outcome, early.trap) == ("trap", "host_error")
    assert "getUint32" in early.message  # wasm_exec.js's memory view does not exist before run
    assert (ran.outcome, ran.stdout) == ("ok", b"main block v\n")
    assert add.results == (Value("i32", 3),)


def test_export_from_a_host_import_during_run(js_runner, modules, wasm_exec):
    obs = run(js_runner, plan(modules["program"], wasm_exec, [RUN], mode="callback"))
    (ran,) = obs.steps
    assert (ran.outcome, ran.stdout) == ("ok", b"main callback v\ngot 579\n")
    assert [str(ev) for ev in ran.trace] == [
        "import host.callback(i32:123, i64:456)", "export sum(i32:123, i64:456)",
        "export_return (i64:579)", "import_return (i64:579)"]


def test_timeouts(js_runner, modules, wasm_exec):
    """A Go loop in main times the run step out; an export that spins times its call out."""
    obs = run(js_runner, plan(modules["program"], wasm_exec,
                              [{**RUN, "timeout_ms": 500}, call("add", i32(1), i32(1))], mode="loop"))
    ran, after = obs.steps
    assert (ran.outcome, ran.trap, ran.stdout) == ("trap", "timeout", b"main loop v\n")
    assert ran.duration_ms < 1500 and after.outcome == "error"
    obs = run(js_runner, plan(modules["program"], wasm_exec, [RUN, call("spin", timeout_ms=500)]))
    assert (obs.steps[1].outcome, obs.steps[1].trap) == ("trap", "timeout")


def test_refusals(js_runner, modules, wasm_exec):
    """stdin is refused at load; a wasm_exec.js that does not match its hash is the runner's
    error; a run step in a wasip1 plan is an error step."""
    obs = js_runner.run(plan(modules["program"], wasm_exec, [RUN], stdin_b64="aGk="))
    assert not obs.load_ok and "stdin" in obs.load_message
    wasip1 = plan(modules["program"], wasm_exec, [RUN])
    del wasip1["target"], wasip1["go_js"]
    obs = js_runner.run(wasip1)  # a js module in a wasip1 plan: gojs is not linked
    assert not obs.load_ok
    wrong = plan(modules["program"], {**wasm_exec, "wasm_exec_sha256": "0" * 64}, [RUN])
    with pytest.raises(RunnerFailure, match="SHA-256"):
        js_runner.run(wrong)


def test_hostile_guest_finds_nothing_of_the_host(js_runner, modules, wasm_exec):
    """The guest walks every object it can reach from the global object and wasm_exec's Go
    instance (host functions and errors they threw included), checks each one's realm, tries
    every foreign Function constructor and a stack-trace hook, and prints what it found: in
    main during run, and again inside an export."""
    obs = run(js_runner, plan(modules["hostile"], wasm_exec,
                              [{**RUN, "timeout_ms": 60_000}, call("again", timeout_ms=60_000)],
                              mode="hostile", imports=[PROBE, FAIL]))
    print(f"walks took {obs.steps[0].duration_ms:.0f} and {obs.steps[1].duration_ms:.0f} ms")
    main, again = obs.steps
    text = main.stdout.decode() + again.stdout.decode()
    assert main.outcome == "ok" and again.outcome == "ok", text + main.message + again.message
    assert "FOUND" not in text, text
    assert text.count("findings: 0") == 1 and "probe import answers 7 8" in text
    for name in ("require", "Deno", "Bun", "fetch", "XMLHttpRequest", "WebSocket",
                 "importScripts", "postMessage"):
        assert f"global {name}: undefined\n" in text
    walked = [int(line.split()[1]) for line in text.splitlines() if line.startswith("walked ")]
    assert len(walked) == 2 and min(walked) > 500, text
