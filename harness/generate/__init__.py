"""Generated cases: export signatures drawn from a seed, judged like hand-written manifests.

``pytest manifests --generated SEED[:COUNT]`` (suites/generated.py) turns signatures
(signature.py) into Go programs (gosource.py) and manifests whose expectations come from the Go
and Wasm rules (expected.py, cases.py); a failing one is shrunk (shrink_steps.py, shrink.py).
"""
