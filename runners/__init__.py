"""Engine runners: one folder per engine with its host program, adapter and expectations."""
