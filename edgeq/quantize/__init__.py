"""The quantizer: calibration, PTQ, the twin, sensitivities, the policy solver, QAT and the policy report."""
