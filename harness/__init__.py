"""The conformance harness: manifest -> build -> plan -> runner -> observation -> verdict -> results."""
